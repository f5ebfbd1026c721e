"""The gradient an update follows, as torch's optimizers form it (one place for the rule)."""


def followed_grad(b, x, grad, group, lr=None):
    """grad negated under `maximize`, plus `weight_decay * x` (L2); or, when the group decouples
    weight decay (AdamW's form), x itself shrunk by `lr * weight_decay` in place first."""
    g = b.unary("neg", grad._data) if group["maximize"] else grad._data
    wd = group.get("weight_decay", 0)
    if wd:
        if group.get("decoupled_weight_decay"):
            b.copy_into(x, b.binary("mul", x, 1 - lr * wd))
        else:
            g = b.binary("add", g, b.binary("mul", x, wd))
    return g

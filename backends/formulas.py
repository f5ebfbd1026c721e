"""Every elementwise formula, written once: the activations (forward and derivative), the
instructions of fused programs and the optimizers' per-element updates.

Each formula is a tiny expression language that is valid Python, C++ and CUDA at once:
`+ - * /`, comparisons, `where(c, a, b)` for `c ? a : b`, and the functions of VOCABULARY,
which each language implements in its own math library (the backend's primitives:
backends/compositions.py's Vocabulary; csrc/simd_math.h; CUDA's builtins and CUDA_VOCABULARY
below). A body is `name = expr` lines and then the result. Arithmetic on literals is folded
in double; a literal is then T(literal) in C++ and CUDA and a weak Python number in Python,
so float32 work stays float32 and each constant is rounded to the array's precision once,
the same way on every device.

From this one table come:
- the C++ kernels' inline functions and opcode lists (setup.py writes csrc/generated/ at
  build time: cpp_header(), opcode_header());
- the CuPy kernels' preamble (cuda_preamble()) and their ElementwiseKernel bodies;
- the reference every backend inherits (python_function(): backends/compositions.py).

This file imports nothing but the standard library: setup.py loads it before anything is built.
"""
import ast
import functools
import math
import os
from collections import namedtuple

# name: (C++ in csrc/simd_math.h, CUDA). Python: the backend's primitive of that name (or
# sigmoid's composition), in backends/compositions.py's Vocabulary.
VOCABULARY = {
    "exp": ("exp_t", "exp"), "expm1": ("expm1_t", "expm1"), "tanh": ("tanh_t", "tanh"),
    "sigmoid": ("sigmoid_t", "tc_sigmoid"), "erf": ("erf_t", "erf"), "sqrt": ("sqrt_t", "sqrt"),
    "log1p_unit": ("log1p_unit", "log1p"),  # log(1 + u) for 0 <= u <= 1
    "abs": ("abs_t", "fabs"),
    "maximum": ("maximum_t", "tc_maximum"), "minimum": ("minimum_t", "tc_minimum"),  # NaN in either wins
}

# CUDA's side of the vocabulary where CUDA has no builtin: exp of a non-positive number
# never overflows, so sigmoid picks its form by the sign
CUDA_VOCABULARY = r"""
template <class T> __device__ __forceinline__ T tc_sigmoid(T x) {
    return x >= T(0) ? T(1) / (T(1) + exp(-x)) : exp(x) / (T(1) + exp(x));
}
template <class T> __device__ __forceinline__ T tc_maximum(T a, T b) { return (a > b || a != a) ? a : b; }
template <class T> __device__ __forceinline__ T tc_minimum(T a, T b) { return (a < b || a != a) ? a : b; }
"""

#: An activation: y = fwd(x, *params); its input gradient from the upstream gradient g and
#: `saves` ("x": the input, "y": the output) is bwd. params: up to two (name, default).
Act = namedtuple("Act", "name fwd bwd saves params")

# 1 - sigmoid(v) = sigmoid(-v), neither computed from the other (1 - s cancels where s -> 1);
# exp of -|v| never overflows
_SIGMOID_PAIR = """
e = exp(-abs({v}))
p = 1 / (1 + e)
q = e * p
s = where({v} >= 0, p, q)
sm = where({v} >= 0, q, p)
"""
# 2u for gelu's tanh form, u = sqrt(2/pi) * (x + 0.044715 x^3): 0.5 (1 + tanh(u)) = sigmoid(2u),
# which does not cancel where tanh(u) -> -1
_GELU_2U = "u2 = (x + x * x * (x * 0.044715)) * (2 * 0.7978845608028654)"

ACTS = (
    # NaN stays NaN; the mask multiplies (a NaN gradient stays NaN)
    Act("relu", "maximum(x, 0)", "g * (y > 0)", "y", ()),
    Act("leaky_relu", "where(x > 0, x, x * negative_slope)", "where(x > 0, g, g * negative_slope)", "x",
        (("negative_slope", 0.01),)),
    Act("sigmoid", "sigmoid(x)", "g * (y * (1 - y))", "y", ()),
    Act("tanh", "tanh(x)", "g * (1 - y * y)", "y", ()),
    Act("exp", "exp(x)", "g * y", "y", ()),
    Act("gelu", "x * ((erf(x * 0.7071067811865476) + 1) * 0.5)",
        """
        cdf = (erf(x * 0.7071067811865476) + 1) * 0.5
        pdf = exp(x * x * -0.5) * 0.3989422804014327
        g * (cdf + x * pdf)
        """, "x", ()),
    Act("gelu_tanh", _GELU_2U + "\nx * sigmoid(u2)",
        # d/dx x s(2u) = s + x s (1 - s) 2u'
        _GELU_2U + _SIGMOID_PAIR.format(v="u2") + """
        du2 = (x * x * (3 * 0.044715) + 1) * (2 * 0.7978845608028654)
        g * (s + x * (s * sm) * du2)
        """, "x", ()),
    # (silu's backward keeps 1 - s: there x (1 - s) is added to 1, and the error stays below 1e-6)
    Act("silu", "x * sigmoid(x)", "s = sigmoid(x)\ng * (s * (1 + x * (1 - s)))", "x", ()),
    # log1p(exp(-|z|)) + max(z, 0) is stable for every z; above threshold softplus is linear
    Act("softplus",
        """
        z = x * beta
        where(z > threshold, x, (log1p_unit(exp(-abs(z))) + maximum(z, 0)) / beta)
        """,
        "z = x * beta\nwhere(z > threshold, g, g * sigmoid(z))", "x", (("beta", 1.0), ("threshold", 20.0))),
    # alpha (e^x - 1) below 0; its derivative alpha e^x from x, exp of min(x, 0) never overflowing
    Act("elu", "where(x > 0, x, expm1(minimum(x, 0)) * alpha)", "where(x > 0, g, g * (alpha * exp(minimum(x, 0))))",
        "x", (("alpha", 1.0),)),
)
ACT = {a.name: a for a in ACTS}

#: The instructions of a fused elementwise program over registers a and b (tinygrad_chain's
#: fusion compiles chains of ops into them): each has the meaning of the backend op of its
#: name. `act:NAME` and `act_backward:NAME` are an activation's formulas (a = x, or a = g
#: and b = the saved value); `sum` adds a block into a float64 sum.
INSTRUCTIONS = (
    ("add", "a + b"), ("sub", "a - b"), ("mul", "a * b"), ("div", "a / b"),
    ("maximum", "maximum(a, b)"), ("minimum", "minimum(a, b)"),
    ("neg", "-a"), ("exp", "act:exp"), ("sqrt", "sqrt(a)"), ("tanh", "act:tanh"), ("sigmoid", "act:sigmoid"),
    ("relu", "act:relu"), ("relu_backward", "act_backward:relu"), ("sigmoid_backward", "act_backward:sigmoid"),
    ("tanh_backward", "act_backward:tanh"), ("sum", None),
)
INSTRUCTION_NAMES = tuple(name for name, _ in INSTRUCTIONS)


def instruction_arity(name):
    """How many registers an instruction reads (sum: 1)."""
    expr = dict(INSTRUCTIONS)[name]
    return 1 if expr is None or expr.startswith("act:") else 2 if expr.startswith("act_backward:") else \
        (2 if "b" in _names(expr) else 1)


#: An optimizer's per-element update: `body` assigns the new values of the arrays in
#: `state` (updated in place) from those and `inputs`; `scalars` are per-step numbers
#: (booleans among them are compile-time flags in C++).
Update = namedtuple("Update", "name inputs state scalars body")

UPDATES = (
    # torch's SGD: d = g + wd p (sign = -1 maximizes); with momentum the buffer starts as d and is
    # then momentum buf + (1 - dampening) d; Nesterov steps along d + momentum buf
    Update("sgd", ("g",), ("p",), ("lr", "wd", "sign"), "p = p - lr * (sign * g + wd * p)"),
    Update("sgd_momentum", ("g",), ("p", "buf"), ("lr", "wd", "sign", "momentum", "damp", "init", "nesterov"), """
        d = sign * g + wd * p
        buf = where(init, d, momentum * buf + damp * d)
        p = p - lr * where(nesterov, d + momentum * buf, buf)
        """),
    # torch's Adam (l2 = weight decay) and AdamW (decay = 1 - lr wd), in its operation order:
    # lerp(m, g, w1) from the end it is exact at (w1 < 0.5: from m; 1 - w1 in the update's precision,
    # as torch's lerp), addcmul, addcdiv; AMSGrad divides by the running maximum of v (vmax = v without it)
    Update("adam", ("g",), ("p", "m", "v", "vmax"),
           ("l2", "decay", "sign", "w1", "lerp_up", "beta2", "w2", "step_size", "inv_bc2_sqrt", "eps", "amsgrad"), """
        gi = sign * g + l2 * p
        d = gi - m
        m = where(lerp_up, m + d * w1, gi - d * (1 - w1))
        v = beta2 * v + w2 * gi * gi
        vmax = where(amsgrad, maximum(vmax, v), v)
        p = p * decay - step_size * m / (sqrt(vmax) * inv_bc2_sqrt + eps)
        """),
    # torch's other optimizers, in their operation order (tinygrad_chain/optim/ derives the scalars;
    # w1c = 1 - w1 and the like are computed there in double, as torch passes them to its kernels)
    Update("adagrad", ("g",), ("p", "s"), ("sign", "wd", "clr", "eps"), """
        gi = sign * g + wd * p
        s = s + gi * gi
        p = p - clr * gi / (sqrt(s) + eps)
        """),
    Update("adadelta", ("g",), ("p", "sq", "acc"), ("sign", "wd", "rho", "w", "lr", "eps"), """
        gi = sign * g + wd * p
        sq = sq * rho + gi * w * gi
        delta = sqrt(acc + eps) / sqrt(sq + eps) * gi
        acc = acc * rho + delta * w * delta
        p = p - lr * delta
        """),
    Update("adamax", ("g",), ("p", "m", "u"), ("sign", "wd", "w1", "w1c", "lerp_up", "beta2", "eps", "clr"), """
        gi = sign * g + wd * p
        d = gi - m
        m = where(lerp_up, m + d * w1, gi - d * w1c)
        u = maximum(u * beta2, abs(gi) + eps)
        p = p - clr * m / u
        """),
    # (centered: the square average less the squared mean gradient; momentum: a buffer of steps)
    Update("rmsprop", ("g",), ("p", "sq", "ga", "buf"),
           ("sign", "wd", "alpha", "w", "wc", "lerp_up", "centered", "eps", "momentum", "has_momentum", "lr"), """
        gi = sign * g + wd * p
        sq = sq * alpha + gi * w * gi
        ga = where(centered, where(lerp_up, ga + (gi - ga) * w, gi - (gi - ga) * wc), ga)
        avg = where(centered, sqrt(sq - ga * ga), sqrt(sq)) + eps
        buf = where(has_momentum, buf * momentum + gi / avg, buf)
        p = where(has_momentum, p - lr * buf, p - lr * gi / avg)
        """),
    # NAdam and RAdam: decay = 1 - lr wd with decoupled weight decay (l2 = 0), else l2 = wd
    Update("nadam", ("g",), ("p", "m", "v"),
           ("decay", "sign", "l2", "w1", "w1c", "lerp_up", "beta2", "w2", "bc2", "eps", "grad_scale",
            "momentum_scale"), """
        p = p * decay
        gi = sign * g + l2 * p
        d = gi - m
        m = where(lerp_up, m + d * w1, gi - d * w1c)
        v = v * beta2 + gi * w2 * gi
        denom = sqrt(v / bc2) + eps
        p = p + gi * grad_scale / denom
        p = p + m * momentum_scale / denom
        """),
    # (tractable: the variance of the adaptive step is, and rect rectifies it)
    Update("radam", ("g",), ("p", "m", "v"),
           ("decay", "sign", "l2", "w1", "w1c", "lerp_up", "beta2", "w2", "bc1", "lr", "tractable", "bc2_sqrt",
            "eps", "rect"), """
        p = p * decay
        gi = sign * g + l2 * p
        d = gi - m
        m = where(lerp_up, m + d * w1, gi - d * w1c)
        v = v * beta2 + gi * w2 * gi
        step = m / bc1 * lr
        p = p - where(tractable, step * (bc2_sqrt / (sqrt(v) + eps)) * rect, step)
        """),
    # (averaging: from step t0 on the average moves by mu, before it is the parameter)
    Update("asgd", ("g",), ("p", "ax"), ("sign", "wd", "decay", "eta", "averaging", "mu"), """
        gi = sign * g + wd * p
        p = p * decay
        p = p - eta * gi
        ax = where(averaging, ax + (p - ax) * mu, p)
        """),
    # the step size grows by eta_plus where the gradient kept its sign and shrinks by eta_minus where
    # it flipped (the step then skipped and the gradient forgotten), within [lo, hi]
    Update("rprop", ("g",), ("p", "prev", "size"), ("sign", "eta_minus", "eta_plus", "lo", "hi"), """
        gi = sign * g
        c = gi * prev
        size = minimum(maximum(size * where(c > 0, eta_plus, where(c < 0, eta_minus, 1)), lo), hi)
        gz = where(c < 0, 0, gi)
        p = p - where(gz > 0, size, where(gz < 0, -size, 0))
        prev = gz
        """),
)
UPDATE = {u.name: u for u in UPDATES}


# The scalars of SGD and Adam from torch's hyperparameters, in the rows' order: computed here once,
# in double, for every backend (the C++ and CUDA kernels round each to the update's precision).
def sgd_scalars(lr, weight_decay, maximize=False):
    return (lr, weight_decay, -1.0 if maximize else 1.0)


def sgd_momentum_scalars(lr, weight_decay, momentum, dampening, init, nesterov, maximize=False):
    return (lr, weight_decay, -1.0 if maximize else 1.0, momentum, 1 - dampening, bool(init), bool(nesterov))


@functools.lru_cache(maxsize=256)  # every parameter of a step asks for the same ones
def adam_scalars(step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled, maximize):
    if step < 1:
        raise ValueError(f"adam_step: step counts from 1, got {step}")
    w1 = 1 - beta1
    return (0.0 if decoupled else weight_decay, 1 - lr * weight_decay if decoupled else 1.0,
            -1.0 if maximize else 1.0, w1, abs(w1) < 0.5, beta2, 1 - beta2, lr / (1 - beta1 ** step),
            1 / math.sqrt(1 - beta2 ** step), eps, bool(amsgrad))


# ---- parsing ------------------------------------------------------------------------------
def _lines(body):
    return [ln.strip() for ln in body.strip().splitlines() if ln.strip()]


def _names(expr):
    return {n.id for n in ast.walk(ast.parse(expr.strip(), mode="eval")) if isinstance(n, ast.Name)}


class _Fold(ast.NodeTransformer):
    """Folds arithmetic on literals in double, so `2 * 0.7978845608028654` is one constant in every language."""

    def visit_BinOp(self, n):
        self.generic_visit(n)
        if isinstance(n.left, ast.Constant) and isinstance(n.right, ast.Constant):
            return ast.copy_location(ast.Constant(eval(compile(ast.Expression(n), "", "eval"))), n)
        return n

    def visit_UnaryOp(self, n):
        self.generic_visit(n)
        if isinstance(n.operand, ast.Constant):
            return ast.copy_location(ast.Constant(-n.operand.value), n)
        return n


def parse(body):
    """[(name or None, expression tree)]: the assignments, then (None, result) for a bare last line."""
    out = []
    for ln in _lines(body):
        node = ast.fix_missing_locations(_Fold().visit(ast.parse(ln).body[0]))
        if isinstance(node, ast.Assign):
            out.append((node.targets[0].id, node.value))
        else:
            out.append((None, node.value))
    return out


# each operator: (C/CUDA symbol, the vocabulary's name in Python)
_OPS = {ast.Add: ("+", "add"), ast.Sub: ("-", "sub"), ast.Mult: ("*", "mul"), ast.Div: ("/", "div"),
        ast.Lt: ("<", "lt"), ast.Gt: (">", "gt"), ast.LtE: ("<=", "le"), ast.GtE: (">=", "ge"),
        ast.Eq: ("==", "eq"), ast.NotEq: ("!=", "ne")}
_PY_OPS = {k: v[1] for k, v in _OPS.items()}


def emit(node, lang):
    """Source of an expression tree in lang: 0 C++, 1 CUDA (fully parenthesized, literals T(...)),
    2 Python (each operation a call on the vocabulary object V: V.mul(a, b), V.exp(a); literals plain
    numbers, weak scalars applied at the array's precision; where() on a bare name, a flag, is
    Python's lazy `a if c else b`)."""
    def go(n):
        if isinstance(n, ast.Constant):
            return repr(n.value) if lang == 2 else f"T({n.value!r})"
        if isinstance(n, ast.Name):
            return n.id
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return f"V.neg({go(n.operand)})" if lang == 2 else f"(-{go(n.operand)})"
        pair = (n.left, n.right, n.op) if isinstance(n, ast.BinOp) else \
            (n.left, n.comparators[0], n.ops[0]) if isinstance(n, ast.Compare) and len(n.ops) == 1 else None
        if pair and type(pair[2]) in _OPS:
            sym, name = _OPS[type(pair[2])]
            a, b = go(pair[0]), go(pair[1])
            return f"V.{name}({a}, {b})" if lang == 2 else f"({a} {sym} {b})"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            f, args = n.func.id, [go(a) for a in n.args]
            if f == "where":
                if lang < 2:
                    return f"({args[0]} ? {args[1]} : {args[2]})"
                if isinstance(n.args[0], ast.Name):
                    return f"({args[1]} if {args[0]} else {args[2]})"
            elif f not in VOCABULARY:
                raise ValueError(f"formulas: {f}() is not in the vocabulary")
            return f"V.{f}({', '.join(args)})" if lang == 2 else f"{VOCABULARY[f][lang]}({', '.join(args)})"
        raise ValueError(f"formulas: {ast.unparse(n)!r} is outside the expression language")
    return go(node)


def c_expr(node, lang):
    """C++ (lang 0) or CUDA (lang 1) source of an expression tree."""
    return emit(node, lang)


def py_expr(node):
    """Python source of an expression tree (see emit)."""
    return emit(node, 2)


def python_source(name, args, body, outputs=None):
    """`def name(V, *args)` evaluating body with the vocabulary object V: it returns the result, or
    the tuple of `outputs` after the assignments."""
    lines = [f"    {t} = {py_expr(e)}" if t else f"    return {py_expr(e)}" for t, e in parse(body)]
    if outputs:
        lines.append(f"    return ({', '.join(outputs)},)")
    return f"def {name}(V, {', '.join(args)}):\n" + "\n".join(lines) + "\n"


def python_function(name, args, body, outputs=None):
    scope = {}
    exec(compile(python_source(name, args, body, outputs), f"<formulas:{name}>", "exec"), scope)
    return scope[name]


# ---- activations: their argument lists in every language -----------------------------------------
def act_params(act):
    """The two parameter slots of act's kernels: its parameter names, then placeholders."""
    names = [p for p, _ in act.params]
    return names + [f"unused{k}" for k in range(len(names), 2)]


def act_python(act, backward):
    """NumPy reference of act's forward (x, *params) or backward (g, xy, *params)."""
    args = (["g", act.saves] if backward else ["x"]) + [p for p, _ in act.params]
    return python_function(f"{act.name}_{'bwd' if backward else 'fwd'}", args, act.bwd if backward else act.fwd)


def _c_function(qual, name, args, body, lang, outputs=None):
    """An inline template function of T for one body: returning its result, or (outputs) writing
    its in-place state through references (`args` names them with a leading &)."""
    stmts, declared = [], {a.lstrip("&") for a in args}
    for target, tree in parse(body):
        expr = c_expr(tree, lang)
        if target is None:
            stmts.append(f"return {expr};")
        elif target in declared:
            stmts.append(f"{target} = {expr};")
        else:
            declared.add(target)
            stmts.append(f"const T {target} = {expr};")
    params = ", ".join(f"T& {a[1:]}" if a.startswith("&") else f"T {a}" for a in args)
    ret = "void" if outputs else "T"
    return f"template <class T> {qual} {ret} {name}({params}) {{\n    " + "\n    ".join(stmts) + "\n}\n"


def _update_args(u):
    return [f"&{s}" for s in u.state] + list(u.inputs) + list(u.scalars)


def functions(lang):
    """The inline functions of every formula, for C++ (lang 0) or CUDA (lang 1): act_NAME_fwd(x, p0, p1),
    act_NAME_bwd(g, xy, p0, p1), instr_NAME(a, b), update_NAME(&state..., inputs..., scalars...)."""
    qual = "static inline" if lang == 0 else "__device__ __forceinline__"
    out = []
    for a in ACTS:
        ps = act_params(a)
        out.append(_c_function(qual, f"act_{a.name}_fwd", ["x"] + ps, a.fwd, lang))
        out.append(_c_function(qual, f"act_{a.name}_bwd", ["g", a.saves] + ps, a.bwd, lang))
    for name, expr in INSTRUCTIONS:
        if expr is None:
            continue
        if expr.startswith("act"):
            kind, act = expr.split(":")
            call = f"act_{act}_fwd(a, T(0), T(0))" if kind == "act" else f"act_{act}_bwd(a, b, T(0), T(0))"
            out.append(f"template <class T> {qual} T instr_{name}(T a, T b) {{ return {call}; }}\n")
        else:
            out.append(_c_function(qual, f"instr_{name}", ["a", "b"], expr, lang))
    for u in UPDATES:
        out.append(_c_function(qual, f"update_{u.name}", _update_args(u), u.body, lang, outputs=u.state))
        if lang == 0:  # and a form taking the scalars as one struct (opcode_header's Scalars_NAME)
            args = ", ".join([f"T& {s}" for s in u.state] + [f"T {i}" for i in u.inputs])
            call = ", ".join(u.state + u.inputs + tuple(f"scalars_.{a}" for a in u.scalars))
            out.append(f"template <class T> {qual} void update_{u.name}({args}, const Scalars_{u.name}<T>& scalars_) "
                       f"{{ update_{u.name}({call}); }}\n")
    return "".join(out)


def scalar_structs():
    """Scalars_NAME<T> for each update: its scalars in the row's order, made from the doubles Python
    computes (the C++ kernels round each to the update's precision once, as the CUDA ones do)."""
    out = []
    for u in UPDATES:
        n = f"Scalars_{u.name}"
        fields = ", ".join(f"T(s[{k}])" for k in range(len(u.scalars)))
        out.append(f"template <class T> struct {n} {{\n    T {', '.join(u.scalars)};\n"
                   f"    static constexpr int count = {len(u.scalars)};\n"
                   f"    static {n} from(const double* s) {{ return {{{fields}}}; }}\n}};\n")
    return "".join(out)


_GENERATED = "// Generated by setup.py from backends/formulas.py: edit that file, not this one.\n"


def opcode_header():
    """csrc/generated/opcodes.h: the opcode lists (X-macros) of the activations and instructions, and
    the updates' scalar structs."""
    acts = " ".join(f"X({a.name})" for a in ACTS)
    ins = " ".join(f"X({n})" for n in INSTRUCTION_NAMES)
    unary = " || ".join(f"op == FOp::{n}" for n in INSTRUCTION_NAMES if instruction_arity(n) == 1)
    return (_GENERATED + "#pragma once\n"
            f"#define TC_ACT_OPS(X) {acts}\n"
            f"#define TC_FUSED_OPS(X) {ins}\n"
            f"#define TC_FUSED_ELEMENTWISE(X) {' '.join(f'X({n})' for n, e in INSTRUCTIONS if e)}\n"
            f"#define TC_FUSED_UNARY(op) ({unary})\n" + scalar_structs())


def cpp_header():
    """csrc/generated/formulas.h: the formulas as inline functions of the per-ISA kernels (isa_impl.h)."""
    return _GENERATED + "#pragma once\n" + functions(0)


def cuda_preamble():
    """Every formula as __device__ functions, for CuPy kernels' preamble."""
    return CUDA_VOCABULARY + functions(1)


def write_headers(directory):
    """Write the generated C++ headers into `directory`, each only when its text changed (so an
    unchanged table rebuilds nothing)."""
    os.makedirs(directory, exist_ok=True)
    for name, text in (("opcodes.h", opcode_header()), ("formulas.h", cpp_header())):
        path = os.path.join(directory, name)
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        with open(path, "w") as f:
            f.write(text)

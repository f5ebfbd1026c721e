"""An MLP learns scikit-learn's 8x8 handwritten digits (offline): >= 97% test accuracy in seconds.

    python examples/mlp_digits.py            # the README's main job
"""
from _common import Run, evaluate, loader, parser, shuffle_split

import tinygrad_chain as tc
from tinygrad_chain import datasets, nn


def main():
    p = parser(__doc__.splitlines()[0], epochs=30, batch_size=64, lr=2e-3)
    p.add_argument("--hidden", type=int, default=512)
    args = p.parse_args()
    if args.smoke:
        args.epochs = 2
    run = Run(args)

    x, y = datasets.digits()                      # 1797 images, 64 pixels in 0..16
    x = (x.float() / 16.0).to(run.device)
    y = y.long().to(run.device)
    (x_train, y_train), (x_test, y_test) = shuffle_split(x, y, n_holdout=360)
    mean, std = x_train.mean(0), x_train.std(0) + 0.1   # standardise with training statistics only
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    train = loader(x_train, y_train, args.batch_size, shuffle=True)
    test = loader(x_test, y_test, 512, shuffle=False)

    model = nn.Sequential(
        nn.Linear(64, args.hidden), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(args.hidden, args.hidden), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(args.hidden, 10),
    ).to(run.device)
    opt = tc.optim.Adam(model.parameters(), lr=args.lr)
    sched = tc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    @run.compiled
    def train_step(xb, yb):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step = 0
    for epoch in run.progress(range(args.epochs), desc="epochs"):
        model.train()
        for xb, yb in train:
            loss = train_step(xb, yb)
            run.log(loss, step, every=5)
            step += 1
        sched.step()
        run.record("test accuracy (per epoch)", epoch + 1, evaluate(model, test))

    metrics = {"train_accuracy": evaluate(model, train), "test_accuracy": evaluate(model, test),
               "epochs": args.epochs, "steps": step}
    run.finish(metrics, model, opt)


if __name__ == "__main__":
    main()

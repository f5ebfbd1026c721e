"""cnn_mnist.py's CNN trained data-parallel: one process per rank, gradients averaged by DistributedDataParallel.

    python -m tinygrad_chain.distributed.launch -np 2 examples/ddp_mnist.py   # mpirun -np 2 ..., flags chosen here
    mpirun -np 2 python examples/ddp_mnist.py                                 # as root: mpirun --allow-run-as-root
    python examples/ddp_mnist.py                                              # one process: the baseline

The global batch (--batch-size) is split over the ranks by a DistributedSampler, so N ranks take the same
steps with the same learning rate as one process and reach the same accuracy (BatchNorm's statistics and
dropout's masks are per rank, so not the same weights). Checkpoints: rank 0 alone saves
`ddp.module.state_dict()` (the bare model's keys), after a barrier every rank loads it; --resume PATH starts
from such a checkpoint on every rank.
"""
import json
import os
import warnings

from _common import Run, parser, plot_curves, print_metrics, save_checkpoint
from cnn_mnist import make_model

import tinygrad_chain as tc
import tinygrad_chain.distributed as dist
from tinygrad_chain import datasets, nn
from tinygrad_chain.nn.parallel import DistributedDataParallel as DDP
from tinygrad_chain.utils.data import DataLoader, DistributedSampler, TensorDataset


def shard_accuracy(model, x, y, rank, world):
    """Accuracy over the whole held-out set: each rank scores every world-th image, then the counts are summed."""
    for b in model.buffers():  # BatchNorm's running statistics: rank 0's, as DDP's next forward would make them
        dist.broadcast(b, src=0)
    model.eval()
    with tc.no_grad():
        xs, ys = x[rank::world], y[rank::world]
        correct = sum(int((model(xs[i:i + 500]).argmax(dim=-1) == ys[i:i + 500]).sum()) for i in range(0, len(ys), 500))
    model.train()
    counts = tc.tensor([correct, len(ys)])
    dist.all_reduce(counts)
    return counts[0].item() / counts[1].item()


def main():
    p = parser(__doc__.splitlines()[0], epochs=None, batch_size=128, lr=3e-3)
    p.add_argument("--epochs", type=int, default=None, help="default: 10 on the 5k sample, 2 on full MNIST")
    p.add_argument("--width", type=int, default=16, help="channels of the first conv")
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--split-seed", type=int, default=0, help="shuffle before the 4,000/1,000 split of the sample")
    p.add_argument("--resume", default=None, help="a checkpoint.pt of this script to start from")
    args = p.parse_args()

    dist.init_process_group("mpi")  # rank and world size come from mpirun (one process: a world of one)
    rank, world = dist.get_rank(), dist.get_world_size()
    per_machine = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE", os.environ.get("LOCAL_WORLD_SIZE", 1)))
    tc.set_num_threads(max(1, len(os.sched_getaffinity(0)) // per_machine))  # ranks on one machine share its cores
    if rank != 0:  # rank 0 speaks for all
        args.no_progress = True
        warnings.simplefilter("ignore")
    run = Run(args)  # seeds everything with --seed: the same initial weights on every rank

    data = datasets.mnist(root=args.data, seed=args.split_seed, device=run.device)
    (x_train, y_train), (x_test, y_test) = data
    if args.epochs is None:
        args.epochs = 10 if len(y_train) <= 10000 else 2
    if args.smoke:
        args.epochs, x_train, y_train, x_test, y_test = 1, x_train[:256], y_train[:256], x_test[:256], y_test[:256]
    mean, std = x_train.mean(), x_train.std()
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    model = make_model(args.width).to(run.device)
    opt_state = None
    if args.resume:  # every rank loads the checkpoint rank 0 saved
        state = tc.load(args.resume)
        model.load_state_dict(state["model"])
        opt_state = state.get("optimizer")
    ddp = DDP(model)  # rank 0's parameters and buffers go to every rank
    tc.manual_seed(args.seed + 1000 * rank)  # dropout masks differ between ranks, as their data does
    opt = tc.optim.Adam(ddp.parameters(), lr=args.lr)
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    train_set = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(train_set, seed=args.seed)  # each rank its 1/world of every epoch
    train = DataLoader(train_set, batch_size=max(1, args.batch_size // world), sampler=sampler)
    sched = tc.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * len(train))
    loss_fn = nn.CrossEntropyLoss()

    step = 0
    bar = run.progress(total=args.epochs * len(train), desc=f"steps ({world} ranks)")
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        for xb, yb in train:
            loss = loss_fn(ddp(xb), yb)
            opt.zero_grad()
            loss.backward()  # returns once every .grad holds the average over the ranks
            opt.step()
            sched.step()
            run.log(loss, step, every=5)
            bar.update()
            step += 1
        run.record("held-out accuracy (per epoch)", epoch + 1, shard_accuracy(model, x_test, y_test, rank, world))

    metrics = {"heldout_accuracy": shard_accuracy(model, x_test, y_test, rank, world), "ranks": world,
               "data": data.source, "train_size": len(y_train), "epochs": args.epochs, "steps": step}
    path = run.out / "checkpoint.pt"
    if rank == 0:  # one writer: every rank holds the same weights
        save_checkpoint(path, model, opt, args)
    dist.barrier()  # the file is complete before anyone reads it
    loaded = tc.load(path)["model"]
    same = all(bool((loaded[k] == v).all()) for k, v in model.state_dict().items())
    agree = tc.tensor([int(same)])
    dist.all_reduce(agree, op=dist.ReduceOp.MIN)
    metrics["checkpoint_matches_every_rank"] = bool(agree.item())
    if rank == 0:
        bar.close()
        metrics.update(wall_time_s=round(run.elapsed(), 2), device=str(run.device), checkpoint=str(path),
                       plot=str(plot_curves(run.out / "curves.png", run.curves)))
        (run.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
        print_metrics(metrics)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

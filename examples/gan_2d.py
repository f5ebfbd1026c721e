"""A GAN learns a 2-D mixture of 8 Gaussians on a circle; reports how many of the 8 modes it covers.

A mode counts as covered when at least --cover-frac of the generated samples fall within 3 standard
deviations of its center (a fair share would be 1/8).

    python examples/gan_2d.py
"""
import math

from _common import Run, parser

import tinygrad_chain as tc
from tinygrad_chain import nn

MODES, RADIUS, STD = 8, 2.0, 0.05
CENTERS = [(RADIUS * math.cos(2 * math.pi * k / MODES), RADIUS * math.sin(2 * math.pi * k / MODES))
           for k in range(MODES)]


def real_batch(n):
    centers = tc.tensor(CENTERS)[tc.randint(0, MODES, (n,))]
    return centers + STD * tc.randn(n, 2)


def mlp(d_in, d_out, hidden, act):
    return nn.Sequential(nn.Linear(d_in, hidden), act(), nn.Linear(hidden, hidden), act(),
                         nn.Linear(hidden, hidden), act(), nn.Linear(hidden, d_out))


def mode_coverage(samples, cover_frac):
    """(modes covered, fraction of samples within 3 std of some center, per-mode fractions)."""
    dist = ((samples[:, None, :] - tc.tensor(CENTERS)[None]) ** 2).sum(-1).sqrt()   # (n, modes)
    near = (dist < 3 * STD).float()
    per_mode = near.mean(0).tolist()
    return sum(f >= cover_frac for f in per_mode), float(near.sum(-1).clamp(max=1).mean()), per_mode


def main():
    p = parser(__doc__.splitlines()[0], steps=3000, batch_size=256, lr=1e-3)
    p.add_argument("--z-dim", type=int, default=4)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--r1", type=float, default=1.0, help="R1 gradient penalty weight (double backprop)")
    p.add_argument("--cover-frac", type=float, default=0.02)
    args = p.parse_args()
    if args.smoke:
        args.steps = 5
    run = Run(args)

    G = mlp(args.z_dim, 2, args.hidden, nn.ReLU).to(run.device)
    D = mlp(2, 1, args.hidden, lambda: nn.LeakyReLU(0.2)).to(run.device)
    opt_g = tc.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = tc.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    n = args.batch_size
    ones, zeros = tc.ones(n, 1), tc.zeros(n, 1)

    for step in run.progress(range(args.steps), desc="steps"):
        # discriminator: real -> 1, generated -> 0 (the generator's output is detached: D's step only)
        fake = G(tc.randn(n, args.z_dim)).detach()
        real = real_batch(n).requires_grad_(args.r1 > 0)
        d_real = D(real)
        loss_d = bce(d_real, ones) + bce(D(fake), zeros)
        if args.r1 > 0:  # R1: penalise D's gradient at real points; needs the gradient of a gradient
            (g_real,) = tc.autograd.grad(d_real.sum(), real, create_graph=True)
            loss_d = loss_d + args.r1 / 2 * (g_real ** 2).sum(-1).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # generator: the non-saturating loss, make D call its samples real
        loss_g = bce(D(G(tc.randn(n, args.z_dim))), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        run.log(loss_g, step, name="generator loss", every=10)
        if step % 10 == 0:
            run.record("discriminator loss", step, loss_d)
        if (step + 1) % max(args.steps // 10, 1) == 0:
            with tc.no_grad():
                run.record("modes covered", step + 1, mode_coverage(G(tc.randn(2000, args.z_dim)), args.cover_frac)[0])

    with tc.no_grad():
        generated = G(tc.randn(2000, args.z_dim))
    covered, quality, per_mode = mode_coverage(generated, args.cover_frac)
    real = real_batch(2000)

    def scatter(ax):
        ax.scatter(*zip(*real.tolist()), s=2, alpha=0.3, label="real")
        ax.scatter(*zip(*generated.tolist()), s=2, alpha=0.3, label="generated")
        ax.set_aspect("equal")
        ax.set_title(f"8 Gaussians: {covered}/8 modes covered")
        ax.legend(markerscale=5, fontsize=7)

    metrics = {"modes_covered": covered, "samples_within_3std": quality,
               "per_mode_fraction": [round(f, 3) for f in per_mode], "steps": args.steps}
    run.finish(metrics, G, opt_g, extra_plot=scatter)
    tc.save({"generator": G.state_dict(), "discriminator": D.state_dict(), "opt_g": opt_g.state_dict(),
             "opt_d": opt_d.state_dict()}, run.out / "gan_checkpoint.pt")


if __name__ == "__main__":
    main()

"""The strong-Wolfe line search LBFGS uses (line_search_fn="strong_wolfe").

A bracketing phase grows the step until the interval [t_prev, t] must hold a point meeting
the strong Wolfe conditions, then a zoom phase shrinks it by safeguarded cubic interpolation
(Nocedal & Wright, algorithms 3.5 and 3.6, as minFunc and torch implement them). The values
are 0-d tensors where torch's are, so float32 runs round as torch's do, and every decision
(which branch, when to stop) is torch's: the trajectories match.
"""


def cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped
    to bounds (default: the interval between x1 and x2); its midpoint where the cubic has none."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if not d2_square >= 0:
        return (lo + hi) / 2.0
    d2 = d2_square.sqrt()
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, lo), hi)


def strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Search along d from the parameters x (loss f, flat gradient g, slope gtd = g.d) starting at
    step t. evaluate(x, t, d) -> (loss, flat gradient) at x + t d. Returns (loss, gradient, t,
    number of evaluations) of the step taken."""
    d_norm = d.abs().max()
    f_new, g_new = evaluate(x, t, d)
    evals, ls_iter = 1, 0
    gtd_new = g_new.dot(d)

    def sufficient_decrease(f_at, t_at):
        return f_at > (f + c1 * t_at * gtd)

    def curvature_met(slope):
        return slope.abs() <= -c2 * gtd

    # bracketing: the points are (step, loss, gradient, slope)
    prev = (0, f, g, gtd)
    bracket, done = None, False
    while ls_iter < max_ls:
        if sufficient_decrease(f_new, t) or (ls_iter > 1 and f_new >= prev[1]):
            bracket = [prev, (t, f_new, g_new, gtd_new)]
            break
        if curvature_met(gtd_new):
            bracket, done = [(t, f_new, g_new, gtd_new)], True
            break
        if gtd_new >= 0:
            bracket = [prev, (t, f_new, g_new, gtd_new)]
            break
        # extrapolate: the cubic's minimiser, kept between 1.01 and 10 times the step
        t_next = cubic_min(prev[0], prev[1], prev[3], t, f_new, gtd_new, bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = (t, f_new, g_new, gtd_new)
        t = t_next
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # no bracket found: keep the best of the start and the last step
        bracket = [(0, f, g, None), (t, f_new, g_new, None)]

    # zoom: shrink the bracket; `low` is the end with the lower loss
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stalled = False
    while not done and ls_iter < max_ls:
        (t0, f0, _, s0), (t1, f1, _, s1) = bracket
        if abs(t1 - t0) * d_norm < tolerance_change:
            break
        t = cubic_min(t0, f0, s0, t1, f1, s1)
        # keep t off the ends: insist on a tenth of the interval once progress stalls
        eps = 0.1 * (max(t0, t1) - min(t0, t1))
        if min(max(t0, t1) - t, t - min(t0, t1)) < eps:
            if stalled or t >= max(t0, t1) or t <= min(t0, t1):
                t = max(t0, t1) - eps if abs(t - max(t0, t1)) < abs(t - min(t0, t1)) else min(t0, t1) + eps
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        point = (t, f_new, g_new, gtd_new)
        if sufficient_decrease(f_new, t) or f_new >= bracket[low][1]:
            bracket[high] = point
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if curvature_met(gtd_new):
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = point
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals

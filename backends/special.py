"""erf for the NumPy and CuPy backends, accurate to the precision of its input.

NumPy has no erf. float64 uses W. J. Cody's rational Chebyshev approximations
(Math. Comp. 23, 1969; relative error about 1e-16 in erf and erfc), so float64
work stays float64-exact; float32 uses a Taylor series below 0.5 and Numerical
Recipes' erfc fit above (relative error 1.2e-7, one float32 ulp), which costs
a third as much. csrc/simd_math.h computes the same formulas, so both CPU
devices agree.
"""
import math

# erf(x) = x * A(x^2) / B(x^2) for |x| <= 0.5
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
# erfc(y) = exp(-y^2) * C(y) / D(y) for 0.5 < y <= 4
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
# erfc(y) = exp(-y^2) / y * (1/sqrt(pi) - z P(z) / Q(z)), z = 1/y^2, for y > 4
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
# Numerical Recipes' erfcc: erfc(y) = t exp(-y^2 + poly(t)), t = 1 / (1 + y/2)
_NR = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
       -0.82215223, 0.17087277)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _ratio(y, num, den):
    """num(y) / den(y) in Cody's layout: num has one more coefficient than den, the last one leading."""
    n, d = num[-1] * y, y
    for a, b in zip(num[:len(den) - 1], den[:len(den) - 1]):
        n, d = (n + a) * y, (d + b) * y
    return (n + num[len(den) - 1]) / (d + den[-1])


def _exp_minus_square(xp, y):
    """exp(-y^2) without the rounding of y*y: y^2 = s^2 + (y - s)(y + s), s = y to 1/16."""
    s = xp.trunc(y * 16.0) / 16.0
    return xp.exp(-s * s) * xp.exp(-(y - s) * (y + s))


def erf64(xp, x):
    y = xp.abs(x)
    with_small = xp.minimum(y, 0.5)
    small = x * _ratio(with_small * with_small, _A, _B)
    mid_y = xp.clip(y, 0.5, 4.0)
    mid = _exp_minus_square(xp, mid_y) * _ratio(mid_y, _C, _D)
    big_y = xp.clip(y, 4.0, 27.0)  # erfc(27) underflows to 0 already; keeps inf out of the split
    z = 1.0 / (big_y * big_y)
    big = _exp_minus_square(xp, big_y) * (1.0 / math.sqrt(math.pi) - z * _ratio(z, _P, _Q)) / big_y
    erfc = xp.where(y <= 4.0, mid, big)
    return xp.where(y <= 0.5, small, xp.copysign(1.0 - erfc, x))


def erf32(xp, x):
    y = xp.abs(x)
    s = xp.minimum(y, xp.float32(0.5))
    s2 = s * s
    # Taylor: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)); n <= 7 leaves < 1e-9 at 0.5
    poly = xp.zeros_like(s2)
    for n in range(7, -1, -1):
        poly = poly * s2 + xp.float32((-1) ** n * _TWO_OVER_SQRT_PI / (math.factorial(n) * (2 * n + 1)))
    small = xp.copysign(s * poly, x)
    t = 1 / (1 + xp.float32(0.5) * y)
    p = xp.zeros_like(t)
    for c in reversed(_NR):
        p = p * t + xp.float32(c)
    erfc = t * xp.exp(-y * y + p)
    return xp.where(y < 0.5, small, xp.copysign(1 - erfc, x))


def erf(xp, x):
    """erf of a float array, in its dtype."""
    out = erf64(xp, x) if x.dtype == xp.float64 else erf32(xp, x)
    return out.astype(x.dtype, copy=False)

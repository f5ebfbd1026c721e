// Branch-free exp/tanh/erf/log1p written as scalar functions that GCC's
// vectorizer turns into SIMD loops (selects, no calls, no table lookups).
// Part of the per-ISA kernel templates (see isa_begin.h for the rules).

static inline float bits_to_f(int i) { return __builtin_bit_cast(float, i); }
static inline int f_to_bits(float f) { return __builtin_bit_cast(int, f); }
static inline double bits_to_d(long long i) { return __builtin_bit_cast(double, i); }
static inline long long d_to_bits(double d) { return __builtin_bit_cast(long long, d); }

static inline float sqrt_t(float x) { return __builtin_sqrtf(x); }
static inline double sqrt_t(double x) { return __builtin_sqrt(x); }

// exp: e^x = 2^n * e^r with n = round(x/ln2), |r| <= ln2/2, r by Cody-Waite. float: 2^n is applied
// as 2^h * 2^(n-h), h = n/2, so that results round to denormals below FLT_MIN and to inf above
// FLT_MAX by themselves (x clamped to [-104, 89], where they are 0 and inf already).
static inline float exp_t(float x) {
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    float xc = x > 89.0f ? 89.0f : (x < -104.0f ? -104.0f : x);
    float t = xc * 1.44269504088896341f + magic;
    float n = t - magic;
    int ni = f_to_bits(t) - f_to_bits(magic);
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int h = ni >> 1;  // n in [-150, 128]: h and n - h in [-75, 64]
    return p * bits_to_f((h + 127) << 23) * bits_to_f((ni - h + 127) << 23);
}

static inline double exp_t(double x) {
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    double xc = x > 710.0 ? 710.0 : (x < -746.0 ? -746.0 : x);
    double t = xc * 1.4426950408889634 + magic;
    double n = t - magic;
    long long ni = d_to_bits(t) - d_to_bits(magic);
    double r = xc - n * 6.93147180369123816490e-01;
    r = r - n * 1.90821492927058770002e-10;
    // Taylor to r^13: truncation below 2e-17 for |r| <= ln2/2
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r + 1.0;
    // n in [-1076, 1024]: h = floor(n / 2) by an unsigned shift (AVX2 has no 64-bit arithmetic one)
    long long h = (long long)((unsigned long long)(ni + 2048) >> 1) - 1024;
    return p * bits_to_d((h + 1023) << 52) * bits_to_d((ni - h + 1023) << 52);
}

// e^y - 1 for 0 <= y < 0.5 (Taylor), accurate where exp(y) - 1 would cancel.
static inline float expm1_small(float y) {
    float p = 1.0f / 362880.0f;
    p = p * y + 1.0f / 40320.0f;
    p = p * y + 1.0f / 5040.0f;
    p = p * y + 1.0f / 720.0f;
    p = p * y + 1.0f / 120.0f;
    p = p * y + 1.0f / 24.0f;
    p = p * y + 1.0f / 6.0f;
    p = p * y + 0.5f;
    return p * y * y + y;
}
static inline double expm1_small(double y) {
    double p = 1.0 / 355687428096000.0;  // 1/17!
    p = p * y + 1.0 / 20922789888000.0;
    p = p * y + 1.0 / 1307674368000.0;
    p = p * y + 1.0 / 87178291200.0;
    p = p * y + 1.0 / 6227020800.0;
    p = p * y + 1.0 / 479001600.0;
    p = p * y + 1.0 / 39916800.0;
    p = p * y + 1.0 / 3628800.0;
    p = p * y + 1.0 / 362880.0;
    p = p * y + 1.0 / 40320.0;
    p = p * y + 1.0 / 5040.0;
    p = p * y + 1.0 / 720.0;
    p = p * y + 1.0 / 120.0;
    p = p * y + 1.0 / 24.0;
    p = p * y + 1.0 / 6.0;
    p = p * y + 0.5;
    return p * y * y + y;
}

// float tanh(x) = x P(x^2) / Q(x^2), |x| clamped to 9.02 (float32 tanh rounds to 1 from 9.0109),
// evaluated in double so that the float result is rounded once: at most 0.87 ulp from tanh over
// every float (measured; tests/test_cpp_kernels.py sweeps every 61st). Degree 4/4 in x^2, fitted
// for this project by csrc/fit_tanh.py (weighted least squares on the relative error, Lawson
// reweighting towards the minimax: 2.2e-8 on [0, 9.02]). P(0) = Q(0) = 1: tanh(x) = x for tiny x,
// -0 stays -0, NaN propagates (the clamp's comparisons are false for it).
static inline float tanh_t(float x) {
    double xc = x > 9.02f ? 9.02f : (x < -9.02f ? -9.02f : x);
    double s = xc * xc;
    double p = 1.3384861148514369e-08;
    p = p * s + 2.0636233250474904e-05;
    p = p * s + 0.003497482608143331;
    p = p * s + 0.13382708244441455;
    p = p * s + 1.0;
    double q = 7.790482361124668e-07;
    q = q * s + 0.00032885581464495574;
    q = q * s + 0.025884455740937548;
    q = q * s + 0.4671602949567082;
    q = q * s + 1.0;
    return float(xc * p / q);
}

// double tanh(x) = sign(x) * em1 / (em1 + 2) with em1 = e^(2|x|) - 1.
static inline double tanh_t(double x) {
    double ax = x < 0.0 ? -x : x;
    double y = 2.0 * (ax > 20.0 ? 20.0 : ax);
    double big = exp_t(y) - 1.0;
    double small = expm1_small(y);
    double em1 = y < 0.5 ? small : big;
    double t = em1 / (em1 + 2.0);
    t = x != x ? x : t;
    return __builtin_copysign(t, x);  // t >= 0 or NaN; -0 stays -0
}

template <class T>
static inline T sigmoid_t(T x) { return T(1) / (T(1) + exp_t(-x)); }

// erf, to the precision of its type (backends/special.py computes the same formulas,
// so both CPU devices agree). float: a Taylor series below 0.5, Numerical Recipes'
// erfc fit above (relative error 1.2e-7). double: W. J. Cody's rational
// approximations (Math. Comp. 23, 1969), relative error about 1e-16.
static inline float erf_t(float x) {
    float y = x < 0.0f ? -x : x;
    float s = y < 0.5f ? y : 0.5f, s2 = s * s;
    // 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)), n <= 7 (the next term is below 1e-9 at 0.5)
    float q = -1.492565035840625e-05f;
    q = q * s2 + 0.00012055332981789664f;
    q = q * s2 + -0.0008548327023450852f;
    q = q * s2 + 0.005223977625442188f;
    q = q * s2 + -0.026866170645131252f;
    q = q * s2 + 0.11283791670955126f;
    q = q * s2 + -0.37612638903183754f;
    q = q * s2 + 1.1283791670955126f;
    float small = s * q;
    float t = 1.0f / (1.0f + 0.5f * y);
    float p = 0.17087277f;
    p = -0.82215223f + t * p;
    p = 1.48851587f + t * p;
    p = -1.13520398f + t * p;
    p = 0.27886807f + t * p;
    p = -0.18628806f + t * p;
    p = 0.09678418f + t * p;
    p = 0.37409196f + t * p;
    p = 1.00002368f + t * p;
    p = -1.26551223f + t * p;
    float r = y < 0.5f ? small : 1.0f - t * exp_t(-y * y + p);
    return __builtin_copysignf(r, x);
}

// Cody's rational num(y) / den(y): num has one more coefficient than den, the last one leading
template <int ND>
static inline double cody_ratio(double y, const double (&num)[ND + 1], const double (&den)[ND]) {
    double n = num[ND] * y, d = y;
    for (int i = 0; i < ND - 1; ++i) {
        n = (n + num[i]) * y;
        d = (d + den[i]) * y;
    }
    return (n + num[ND - 1]) / (d + den[ND - 1]);
}

// exp(-y^2) without the rounding of y*y: y^2 = s^2 + (y - s)(y + s), s = y to 1/16
static inline double exp_minus_square(double y) {
    double s = __builtin_trunc(y * 16.0) / 16.0;
    return exp_t(-s * s) * exp_t(-(y - s) * (y + s));
}

static inline double erf_t(double x) {
    static constexpr double A[5] = {3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
                                    3.20937758913846947e03, 1.85777706184603153e-1};
    static constexpr double B[4] = {2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
                                    2.84423683343917062e03};
    static constexpr double C[9] = {5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
                                    2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
                                    2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8};
    static constexpr double D[8] = {1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                                    1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                                    3.43936767414372164e03, 1.23033935480374942e03};
    static constexpr double P[6] = {3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
                                    1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2};
    static constexpr double Q[5] = {2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
                                    6.05183413124413191e-2, 2.33520497626869185e-3};
    double y = x < 0.0 ? -x : x;
    double ys = y < 0.5 ? y : 0.5;
    double small = ys * cody_ratio<4>(ys * ys, A, B);                        // erf, |x| <= 0.5
    double ym = y < 0.5 ? 0.5 : (y > 4.0 ? 4.0 : y);
    double mid = exp_minus_square(ym) * cody_ratio<8>(ym, C, D);            // erfc, 0.5 < |x| <= 4
    double yb = y < 4.0 ? 4.0 : (y > 27.0 ? 27.0 : y);                      // erfc(27) is 0 already
    double z = 1.0 / (yb * yb);
    double big = exp_minus_square(yb) * (0.5641895835477563 - z * cody_ratio<5>(z, P, Q)) / yb;
    double erfc = y <= 4.0 ? mid : big;
    double r = y <= 0.5 ? small : 1.0 - erfc;
    return x != x ? x : __builtin_copysign(r, x);
}

// log(1 + u) for 0 <= u <= 1: 2*atanh(s), s = u / (2 + u) <= 1/3.
static inline float log1p_unit(float u) {
    float s = u / (2.0f + u), s2 = s * s;
    float p = 1.0f / 15;
    p = p * s2 + 1.0f / 13;
    p = p * s2 + 1.0f / 11;
    p = p * s2 + 1.0f / 9;
    p = p * s2 + 1.0f / 7;
    p = p * s2 + 1.0f / 5;
    p = p * s2 + 1.0f / 3;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}
static inline double log1p_unit(double u) {
    double s = u / (2.0 + u), s2 = s * s;
    double p = 1.0 / 33;
    for (int k = 31; k >= 1; k -= 2) p = p * s2 + 1.0 / k;
    return 2.0 * s * p;
}

// The rest of backends/formulas.py's vocabulary.
template <class T> static inline T abs_t(T x) { return x < T(0) ? -x : x; }
// NaN in either operand wins, as in NumPy and torch
template <class T> static inline T maximum_t(T a, T b) { return (a > b || a != a) ? a : b; }
template <class T> static inline T minimum_t(T a, T b) { return (a < b || a != a) ? a : b; }

// e^x - 1: below |x| = 0.5 from the series of e^|x| - 1 (e^x - 1 = -em / (1 + em) for x < 0).
template <class T>
static inline T expm1_t(T x) {
    T ax = abs_t(x);
    T em = expm1_small(ax < T(0.5) ? ax : T(0));
    T small = x < T(0) ? -em / (T(1) + em) : em;
    return ax < T(0.5) ? small : exp_t(x) - T(1);
}

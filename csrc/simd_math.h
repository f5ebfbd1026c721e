// Branch-free exp/tanh/erf/log1p written as scalar functions that GCC's
// vectorizer turns into SIMD loops (selects, no calls, no table lookups).
// Part of the per-ISA kernel templates (see isa_begin.h for the rules).

static inline float bits_to_f(int i) { return __builtin_bit_cast(float, i); }
static inline int f_to_bits(float f) { return __builtin_bit_cast(int, f); }
static inline double bits_to_d(long long i) { return __builtin_bit_cast(double, i); }
static inline long long d_to_bits(double d) { return __builtin_bit_cast(long long, d); }

static inline float sqrt_t(float x) { return __builtin_sqrtf(x); }
static inline double sqrt_t(double x) { return __builtin_sqrt(x); }

// exp: e^x = 2^n * e^r with n = round(x/ln2), |r| <= ln2/2, r by Cody-Waite.
static inline float exp_t(float x) {
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    float xc = x > 88.7228f ? 88.7228f : (x < -86.5f ? -86.5f : x);
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
    float scale = bits_to_f((ni + 126) << 23);  // 2^(n-1): n can reach 128
    float y = p * scale * 2.0f;
    y = x < -87.33654f ? 0.0f : y;
    return x > 88.72283f ? __builtin_inff() : y;
}

static inline double exp_t(double x) {
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    double xc = x > 709.78 ? 709.78 : (x < -708.0 ? -708.0 : x);
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
    double scale = bits_to_d((ni + 1022) << 52);
    double y = p * scale * 2.0;
    y = x < -745.2 ? 0.0 : y;
    return x > 709.782712893384 ? __builtin_inf() : y;
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

// tanh(x) = sign(x) * em1 / (em1 + 2) with em1 = e^(2|x|) - 1.
template <class T>
static inline T tanh_t(T x) {
    T ax = x < T(0) ? -x : x;
    T y = T(2) * (ax > T(20) ? T(20) : ax);
    T big = exp_t(y) - T(1);
    T small = expm1_small(y);
    T em1 = y < T(0.5) ? small : big;
    T t = em1 / (em1 + T(2));
    t = x != x ? x : t;
    return x < T(0) ? -t : t;
}

template <class T>
static inline T sigmoid_t(T x) { return T(1) / (T(1) + exp_t(-x)); }

// erf via Numerical Recipes' erfcc (relative error < 1.2e-7), the formula the
// NumPy backend uses too, so both CPU devices agree.
template <class T>
static inline T erf_t(T x) {
    T z = x < T(0) ? -x : x;
    T t = T(1) / (T(1) + T(0.5) * z);
    T p = T(0.17087277);
    p = T(-0.82215223) + t * p;
    p = T(1.48851587) + t * p;
    p = T(-1.13520398) + t * p;
    p = T(0.27886807) + t * p;
    p = T(-0.18628806) + t * p;
    p = T(0.09678418) + t * p;
    p = T(0.37409196) + t * p;
    p = T(1.00002368) + t * p;
    p = T(-1.26551223) + t * p;
    T erfc = t * exp_t(-z * z + p);
    return x >= T(0) ? T(1) - erfc : erfc - T(1);
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

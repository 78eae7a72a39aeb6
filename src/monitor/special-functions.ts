/**
 * Special functions the drift statistics need (log-gamma, regularized incomplete gamma, chi-square tail).
 * Accurate to ~1e-14 relative, far below the 1e-6 the p-value fixtures ask for.
 */

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] as number;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += (LANCZOS[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln C(n, k). */
export function logBinomial(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) return 1 - gammaPSeries(a, x);
  return gammaQContinuedFraction(a, x);
}

function gammaPSeries(a: number, x: number): number {
  let ap = a;
  let sum = 1 / a;
  let del = sum;
  for (let n = 0; n < 10_000; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

function gammaQContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Survival function of the chi-square distribution: P(X >= x) with `dof` degrees of freedom. */
export function chi2Sf(x: number, dof: number): number {
  if (dof <= 0) return Number.NaN;
  return gammaQ(dof / 2, x / 2);
}

/** Inverse survival function of chi-square (bisection; used only to set thresholds). */
export function chi2Isf(p: number, dof: number): number {
  let lo = 0;
  let hi = Math.max(1, dof);
  while (chi2Sf(hi, dof) > p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (chi2Sf(mid, dof) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Standard normal CDF (via the complementary error function of the incomplete gamma). */
export function normalCdf(z: number): number {
  const q = 0.5 * gammaQ(0.5, (z * z) / 2);
  return z >= 0 ? 1 - q : q;
}

/**
 * CDF of Student's t distribution with an integer number of degrees of freedom (the closed-form series of
 * Abramowitz & Stegun 26.7.3/26.7.4, exact up to rounding for every dof).
 */
export function studentTCdf(t: number, dof: number): number {
  if (!Number.isInteger(dof) || dof < 1) return Number.NaN;
  if (!Number.isFinite(t)) return Number.isNaN(t) ? Number.NaN : t > 0 ? 1 : 0;
  const theta = Math.atan(Math.abs(t) / Math.sqrt(dof));
  const c2 = Math.cos(theta) ** 2;
  const s = Math.sin(theta);
  let a: number; // P(|T| <= |t|)
  if (dof % 2 === 1) {
    let sum = 0;
    if (dof > 1) {
      let term = 1;
      sum = 1;
      for (let k = 3; k <= dof - 2; k += 2) {
        term *= ((k - 1) / k) * c2;
        sum += term;
      }
    }
    a = (2 / Math.PI) * (theta + (dof > 1 ? s * Math.cos(theta) * sum : 0));
  } else {
    let term = 1;
    let sum = 1;
    for (let k = 2; k <= dof - 2; k += 2) {
      term *= ((k - 1) / k) * c2;
      sum += term;
    }
    a = s * sum;
  }
  return t >= 0 ? 0.5 + a / 2 : 0.5 - a / 2;
}

/** Quantile of Student's t (integer dof) by bisection: the t with P(T <= t) = p. */
export function studentTPpf(p: number, dof: number): number {
  if (!(p > 0 && p < 1) || !Number.isInteger(dof) || dof < 1) return Number.NaN;
  if (p < 0.5) return -studentTPpf(1 - p, dof);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, dof) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, dof) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// Matches scipy 1.17 `scipy.integrate.simpson(y, x=x)` on one axis: composite Simpson's
// rule for irregular spacing; an even number of points gets Cartwright's correction on the
// last interval (the default since scipy 1.11). Divisions by zero give 0 as scipy's
// `np.true_divide(..., where=den != 0)` does.

public enum Simpson {
    public static func integrate(_ y: [Double], x: [Double]) -> Double {
        precondition(y.count == x.count, "Simpson.integrate: y and x differ in length")
        let n = y.count
        let h = zip(x.dropFirst(), x).map { $0 - $1 }
        guard n % 2 == 0 else { return basic(y, h, stop: n - 2) }
        if n == 0 { return 0 }
        if n == 2 { return 0.5 * h[0] * (y[1] + y[0]) }
        var result = basic(y, h, stop: n - 3)
        let h0 = h[n - 3], h1 = h[n - 2]
        let alpha = divide(2 * h1 * h1 + 3 * h0 * h1, 6 * (h1 + h0))
        let beta = divide(h1 * h1 + 3.0 * h0 * h1, 6 * h0)
        let eta = divide(1 * h1 * h1 * h1, 6 * h0 * (h0 + h1))
        result += alpha * y[n - 1] + beta * y[n - 2] - eta * y[n - 3]
        return result
    }

    /// scipy's `_basic_simpson(y, 0, stop, x)`: parabolas over points k, k+1, k+2 for k = 0, 2, ... < stop.
    private static func basic(_ y: [Double], _ h: [Double], stop: Int) -> Double {
        var sum = 0.0
        for k in stride(from: 0, to: stop, by: 2) {
            let h0 = h[k], h1 = h[k + 1]
            let hsum = h0 + h1, hprod = h0 * h1
            let ratio = divide(h0, h1)
            sum += hsum / 6.0 * (y[k] * (2.0 - divide(1.0, ratio))
                                 + y[k + 1] * (hsum * divide(hsum, hprod))
                                 + y[k + 2] * (2.0 - ratio))
        }
        return sum
    }

    private static func divide(_ numerator: Double, _ denominator: Double) -> Double {
        denominator != 0 ? numerator / denominator : 0
    }
}

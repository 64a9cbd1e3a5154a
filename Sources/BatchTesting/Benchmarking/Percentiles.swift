/// The median and 90th percentile of a set of samples, as BENCHMARKS.md reports them (nearest rank:
/// the smallest sample with at least that share of the samples at or below it).
public struct Percentiles<Sample: Comparable & Sendable>: Sendable {
    public let median: Sample
    public let p90: Sample
    /// How many samples there were.
    public let count: Int

    /// - Throws: `SupportError` when `samples` is empty (a benchmark that measured nothing).
    public init(_ samples: [Sample]) throws {
        guard !samples.isEmpty else { throw SupportError("no samples to take percentiles of") }
        let sorted = samples.sorted()
        median = sorted[Self.rank(0.5, of: sorted.count)]
        p90 = sorted[Self.rank(0.9, of: sorted.count)]
        count = sorted.count
    }

    /// The index of the nearest-rank `fraction` percentile among `count` sorted samples.
    static func rank(_ fraction: Double, of count: Int) -> Int {
        let rank = Int((fraction * Double(count)).rounded(.up))
        return min(count, max(1, rank)) - 1
    }
}

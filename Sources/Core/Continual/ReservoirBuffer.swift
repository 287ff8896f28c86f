/// A fixed-size sample of everything offered to it so far (reservoir sampling, Vitter's
/// algorithm R): after n offers each of them is in the buffer with probability capacity / n.
/// The experience-replay memory: examples of earlier tasks mixed into later tasks' batches.
///
/// ```swift
/// var buffer = ReservoirBuffer<Int>(capacity: 100, seed: 7)
/// for x in taskExamples { buffer.offer(x) }
/// let replayed = buffer.sample(8)
/// ```
public struct ReservoirBuffer<Element>: Sendable where Element: Sendable {
    public let capacity: Int
    public private(set) var items: [Element] = []
    /// How many elements were offered in total.
    public private(set) var seen = 0
    private var rng: SplitMix64

    public init(capacity: Int, seed: UInt64) {
        precondition(capacity >= 0, "ReservoirBuffer: negative capacity")
        self.capacity = capacity
        rng = SplitMix64(seed: seed)
    }

    /// A buffer continuing exactly where a saved one stopped (its items, offer count and
    /// generator state, as `generatorState` read them): what a training checkpoint restores.
    public init(capacity: Int, items: [Element], seen: Int, generatorState: UInt64) {
        precondition(capacity >= 0 && items.count <= capacity && seen >= items.count, "ReservoirBuffer: inconsistent saved state")
        self.capacity = capacity
        self.items = items
        self.seen = seen
        rng = SplitMix64(seed: 0)
        rng.state = generatorState
    }

    /// The generator's state now (sampling and replacement draws continue from it).
    public var generatorState: UInt64 { rng.state }

    public var isEmpty: Bool { items.isEmpty }

    /// Offers one element: kept while there is room; afterwards it replaces a random slot with
    /// probability capacity / seen.
    public mutating func offer(_ x: Element) {
        seen += 1
        guard capacity > 0 else { return }
        if items.count < capacity {
            items.append(x)
        } else {
            let j = Int(rng.next() % UInt64(seen))
            if j < capacity { items[j] = x }
        }
    }

    /// `k` elements drawn uniformly with replacement (none when the buffer is empty).
    public mutating func sample(_ k: Int) -> [Element] {
        guard !items.isEmpty, k > 0 else { return [] }
        return (0..<k).map { _ in items[Int(rng.next() % UInt64(items.count))] }
    }
}

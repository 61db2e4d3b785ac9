// Runs a transform over a stream of work items on several threads and consumes the results in input
// order. The caller's thread produces inputs and consumes outputs (reading and writing files stay
// sequential); `threads` workers transform. At most `2 × threads` items are in flight, so memory is
// bounded by the item size, whatever the stream's length.

import Dispatch
import Synchronization

private final class Slots<Output: Sendable>: Sendable {
    let results = Mutex<[Int: Result<Output, any Error>]>([:])
    let ready = DispatchSemaphore(value: 0)
    let workers: DispatchSemaphore
    init(threads: Int) { workers = DispatchSemaphore(value: threads) }
}

/// Maps `transform` over the items `next` returns until it returns nil, on `threads` threads, and
/// passes each result to `consume` in the order the items came.
/// - Throws: the first error of `next`, of a transform (when its turn to be consumed comes) or of
///   `consume`.
public func orderedParallelMap<Input: Sendable, Output: Sendable>(
    threads: Int,
    next: () throws -> Input?,
    transform: @escaping @Sendable (Input) throws -> Output,
    consume: (Output) throws -> Void
) throws {
    if threads <= 1 {
        while let item = try next() { try consume(try transform(item)) }
        return
    }
    let slots = Slots<Output>(threads: threads)
    let inFlightLimit = threads * 2
    var submitted = 0, consumed = 0
    let queue = DispatchQueue.global()

    func drain(untilInFlightBelow limit: Int) throws {
        while submitted - consumed >= limit {
            let result = slots.results.withLock { $0.removeValue(forKey: consumed) }
            guard let result else { slots.ready.wait(); continue }
            consumed += 1
            try consume(try result.get())
        }
    }

    while let item = try next() {
        let index = submitted
        submitted += 1
        queue.async {
            slots.workers.wait()
            let r = Result { try transform(item) }
            slots.workers.signal()
            slots.results.withLock { $0[index] = r }
            slots.ready.signal()
        }
        try drain(untilInFlightBelow: inFlightLimit)
    }
    try drain(untilInFlightBelow: 1)
}

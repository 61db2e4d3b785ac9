// Runs a transform over a stream of work items on several threads and consumes the results in input
// order. The caller's thread produces inputs and consumes outputs (reading and writing files stay
// sequential); `threads` workers transform. At most `2 × threads` items are in flight, so memory is
// bounded by the item size, whatever the stream's length.
// Also here: `WorkerPool`, the one pool of per-thread state (normalizers, encoders, word counters) the
// transforms borrow, so that a costly object is made once per thread rather than once per item.

import Dispatch
import Foundation
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

/// Per-thread state that workers borrow and give back: an object costly to make (an ICU normalizer, a
/// tokenizer's encoder, a word counter) made once per concurrent user and reused after.
/// Thread-safe; a borrowed object belongs to its borrower alone until it is given back.
/// - Complexity: `take` and `give` are O(1) under one lock; at most `keep` idle objects are held.
public final class WorkerPool<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [State] = []
    private let make: (() throws -> State)?
    private let keep: Int

    /// A pool that makes its objects with `make` and keeps at most `keep` idle ones.
    public init(keep: Int = .max, make: (() throws -> State)? = nil) {
        self.make = make
        self.keep = keep
    }

    /// An idle object, or one made by `make` when none is idle.
    public func take(orMake make: () throws -> State) rethrows -> State {
        if let state = lock.withLock({ idle.popLast() }) { return state }
        return try make()
    }

    /// An idle object, or a new one from the pool's own `make`.
    public func take() throws -> State {
        guard let make else { preconditionFailure("WorkerPool.take(): the pool was made without `make`; use take(orMake:)") }
        return try take(orMake: make)
    }

    /// Returns an object to the pool (dropped when `keep` are idle already).
    public func give(_ state: State) {
        lock.withLock { if idle.count < keep { idle.append(state) } }
    }

    /// Takes every idle object out of the pool (to release resources they hold).
    public func removeAll() -> [State] {
        lock.withLock { let all = idle; idle.removeAll(); return all }
    }

    /// Runs `body` with a borrowed object and gives it back afterwards, also when `body` throws.
    public func withWorker<R>(_ body: (State) throws -> R) throws -> R {
        let state = try take()
        defer { give(state) }
        return try body(state)
    }
}

// Open-addressing hash tables for the encoder's hot paths: pair → merge and byte string → value.
// Policy: insert-only (the encode cache is cleared whole when full); linear probing; power-of-two
// capacity at most half full.
// Performance notes: Swift's `Dictionary<[UInt8], Int>` needs an array allocation per lookup and
// hashes with SipHash; these tables hash in place (FNV-1a for bytes, a multiplicative mix for pairs).

import Foundation

/// (left id, right id) → (rank, new id), both 32-bit.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: n)
        values = [UInt64](repeating: 0, count: n)
        mask = n - 1
    }

    @inline(__always) private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 29) & mask
    }

    /// Sets the value for a pair (a later insert of the same pair replaces the earlier one).
    mutating func set(_ left: Int32, _ right: Int32, rank: Int32, newID: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var i = Self.slot(key, mask)
        while keys[i] != Self.empty && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == Self.empty { count += 1 }
        keys[i] = key
        values[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: newID))
    }

    /// The (rank, new id) for a pair, or nil.
    @inline(__always) func get(_ left: Int32, _ right: Int32) -> (rank: Int32, newID: Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return keys.withUnsafeBufferPointer { k in
            var i = Self.slot(key, mask)
            while true {
                let stored = k[i]
                if stored == key {
                    let v = values[i]
                    return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
                }
                if stored == Self.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let n = keys.count * 2
        keys = [UInt64](repeating: Self.empty, count: n)
        values = [UInt64](repeating: 0, count: n)
        mask = n - 1
        count = 0
        for (i, k) in oldKeys.enumerated() where k != Self.empty {
            var j = Self.slot(k, mask)
            while keys[j] != Self.empty { j = (j + 1) & mask }
            keys[j] = k
            values[j] = oldValues[i]
            count += 1
        }
    }
}

/// Byte string → Int32, the strings stored back to back in one arena.
struct ByteStringTable: Sendable {
    private var arena: [UInt8] = []
    private var offsets: [Int32] = []
    private var lengths: [Int32] = []
    private var values: [Int32] = []
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int
    var count: Int { values.count }
    var arenaBytes: Int { arena.count }

    /// At most this many strings fit (`hasRoom`) when the table was made with an arena capacity.
    private var limit = Int.max

    /// A table for `capacity` strings. With `arenaCapacity`, the arrays are reserved (not touched) for
    /// `capacity` strings and that many bytes, and `hasRoom` says when one more would not fit; the slot
    /// array, which is written when made, starts small and doubles up to 2 × `capacity` slots.
    init(capacity: Int = 16, arenaCapacity: Int = 0) {
        var n = 16
        while n < (arenaCapacity > 0 ? min(capacity, 1 << 16) : capacity) * 2 { n <<= 1 }
        slots = [Int32](repeating: -1, count: n)
        mask = n - 1
        if arenaCapacity > 0 {
            limit = capacity
            arena.reserveCapacity(arenaCapacity)
            offsets.reserveCapacity(capacity)
            lengths.reserveCapacity(capacity)
            values.reserveCapacity(capacity)
            hashes.reserveCapacity(capacity)
        }
    }

    /// Bytes held by the table's arrays (capacities, not counts: what the allocator handed out).
    var memoryBytes: Int {
        arena.capacity + 4 * (offsets.capacity + lengths.capacity + values.capacity + slots.count) + 8 * hashes.capacity
    }

    /// Bytes of the table's arrays in use (elements, and the whole slot array).
    var usedBytes: Int { arena.count + 20 * values.count + 4 * slots.count }

    /// Whether one more string of `n` bytes fits without any array growing.
    func hasRoom(forBytes n: Int) -> Bool {
        arena.count + n <= arena.capacity && values.count < min(values.capacity, limit)
    }

    /// Calls `body` with the bytes of entry `e` (0-based insertion order) and its value.
    @inline(__always) func withEntry<R>(_ e: Int, _ body: (UnsafeBufferPointer<UInt8>, Int32) throws -> R) rethrows -> R {
        let o = Int(offsets[e]), n = Int(lengths[e])
        return try arena.withUnsafeBufferPointer { a in try body(UnsafeBufferPointer(rebasing: a[o ..< o + n]), values[e]) }
    }

    /// The entries (insertion indices) ordered by their bytes, lexicographically as
    /// `[UInt8].lexicographicallyPrecedes` orders them. Costs 4 bytes an entry beside the table.
    func entriesSortedByBytes() -> [Int32] {
        var order = (0 ..< Int32(values.count)).map { $0 }
        arena.withUnsafeBufferPointer { a in
            offsets.withUnsafeBufferPointer { off in
                lengths.withUnsafeBufferPointer { len in
                    order.sort { x, y in
                        let lx = Int(len[Int(x)]), ly = Int(len[Int(y)])
                        let c = memcmp(a.baseAddress! + Int(off[Int(x)]), a.baseAddress! + Int(off[Int(y)]), min(lx, ly))
                        return c != 0 ? c < 0 : lx < ly
                    }
                }
            }
        }
        return order
    }

    @inline(__always) static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in 0 ..< n { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// The slot of a hash: FNV-1a's low bits cluster on short strings, so mix and take high bits.
    @inline(__always) static func slot(_ h: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: ((h ^ (h >> 31)) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The value stored for `p[0..<n]`, or nil.
    @inline(__always) func get(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        let h = Self.hash(p, n)
        return slots.withUnsafeBufferPointer { s in
            var i = Self.slot(h, mask)
            while true {
                let e = Int(s[i])
                if e < 0 { return nil }
                if hashes[e] == h && Int(lengths[e]) == n {
                    let same = arena.withUnsafeBufferPointer { a in memcmpEqual(a.baseAddress! + Int(offsets[e]), p, n) }
                    if same { return values[e] }
                }
                i = (i + 1) & mask
            }
        }
    }

    func get(_ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return getEmpty() }
            return get(base, b.count)
        }
    }

    private func getEmpty() -> Int32? {
        var z: UInt8 = 0
        return withUnsafePointer(to: &z) { get($0, 0) }
    }

    /// Inserts `p[0..<n]` → value; returns the existing value instead when the string is present.
    @discardableResult
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, value: Int32) -> Int32? {
        if let v = get(p, n) { return v }
        if (values.count + 1) * 2 > slots.count { grow() }
        let h = Self.hash(p, n)
        let e = Int32(values.count)
        offsets.append(Int32(arena.count))
        lengths.append(Int32(n))
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(value)
        hashes.append(h)
        var i = Self.slot(h, mask)
        while slots[i] >= 0 { i = (i + 1) & mask }
        slots[i] = e
        return nil
    }

    @discardableResult
    mutating func insert(_ bytes: [UInt8], value: Int32) -> Int32? {
        var z: UInt8 = 0
        return bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { return insert(base, b.count, value: value) }
            return withUnsafePointer(to: &z) { insert($0, 0, value: value) }
        }
    }

    /// Calls `body` with every stored string and its value, in insertion order.
    func forEachEntry(_ body: ([UInt8], Int32) -> Void) {
        for e in 0 ..< values.count {
            let o = Int(offsets[e])
            body(Array(arena[o ..< o + Int(lengths[e])]), values[e])
        }
    }

    /// Removes everything, keeping the capacity.
    mutating func removeAll() {
        arena.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        for i in slots.indices { slots[i] = -1 }
    }

    private mutating func grow() {
        let n = slots.count * 2
        slots = [Int32](repeating: -1, count: n)
        mask = n - 1
        for e in 0 ..< hashes.count {
            var i = Self.slot(hashes[e], mask)
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(e)
        }
    }
}

@inline(__always) func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}

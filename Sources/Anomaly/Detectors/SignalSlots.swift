/// Which slot of a detector family's per-signal state a signal uses: a dense table indexed by `SignalID`, filled
/// by `accepts` (slow path, once per signal) and read per sample or per run of samples (a bounds check and a load;
/// no hashing).
struct SignalSlots {
    private var table: [Int32] = []

    /// The slot of `id`, or nil when the family did not take that signal.
    @inline(__always)
    func slot(of id: SignalID) -> Int? {
        let i = Int(id.rawValue)
        guard i < table.count else { return nil }
        let s = table[i]
        return s >= 0 ? Int(s) : nil
    }

    mutating func assign(_ id: SignalID, slot: Int) {
        let i = Int(id.rawValue)
        while table.count <= i { table.append(-1) }
        table[i] = Int32(slot)
    }
}

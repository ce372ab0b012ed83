/// "Did you mean …?" for a misspelt config key, kind or name: the closest known word within two edits.
public enum Suggestion {
    /// `" (did you mean \"known\"?)"`, or "" when nothing is close (compared case-insensitively).
    public static func didYouMean(_ word: String, _ known: [String]) -> String {
        let w = Array(word.lowercased().utf8)
        guard w.count <= 64 else { return "" }
        var best: (String, Int)?
        for k in known {
            let d = distance(w, Array(k.lowercased().utf8))
            if d <= 2, d < (best?.1 ?? Int.max) { best = (k, d) }
        }
        return best.map { " (did you mean \"\($0.0)\"?)" } ?? ""
    }

    /// Levenshtein distance.
    public static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

import CareSupport

/// Where in the home a device is, for the routine detector: the last activity's room is the context of a quiet
/// period ("bedroom at night ≠ kitchen at noon"). `bed` and `seat` are pressure sensors (their state says someone
/// lies or sits there); `entrance` is the front door (out of the house ≠ collapsed); `ignore` is a device whose
/// messages are not a person's doing (a fridge compressor's plug, a pet's feeder).
public enum Room: String, Sendable, CaseIterable {
    case bed, seat, bedroom, bathroom, kitchen, living, entrance, other, ignore
}

/// Classifies devices into rooms: first the config's `detectors.routine.rooms` overrides
/// (`{"bathroom": ["hall_bathroom_door"], "ignore": ["id4"]}`, exact device names), then name-based defaults on the
/// device's words (split at `_`, `-`, `/`, `.`, spaces and case changes):
///
/// | room | words (a word starting with `bath` or `bedroom` counts too) |
/// |---|---|
/// | `bed` (pressure; motion/occupancy kind only) | bed, mattress |
/// | `seat` (pressure; motion/occupancy kind only) | seat, chair, armchair, sofa, couch, recliner |
/// | `entrance` | front, entrance, entry, maindoor, porch, frontdoor; or main/back/outside + door |
/// | `bathroom` | bath…, toilet, shower, basin, wc, loo, lavatory, flush, sink |
/// | `bedroom` | bedroom…, wardrobe |
/// | `kitchen` | kitchen, fridge, freezer, cooker, cooktop, stove, oven, hob, kettle, microwave, toaster, dishwasher, cupboard, pantry, groceries, pans, plates |
/// | `living` | living, lounge, tv, television, sittingroom |
/// | `other` | anything else (still a sign of life) |
public struct RoomClassifier: Sendable {
    public var overrides: [String: Room]

    public init(overrides: [String: Room] = [:]) { self.overrides = overrides }

    /// The words of a device name, lower-cased.
    public static func words(_ name: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var prevLower = false
        for ch in name {
            if ch == "_" || ch == "-" || ch == "/" || ch == "." || ch == " " || ch == ":" {
                if !cur.isEmpty { out.append(cur); cur = "" }
                prevLower = false
                continue
            }
            if ch.isUppercase && prevLower && !cur.isEmpty { out.append(cur); cur = "" }
            prevLower = ch.isLowercase || ch.isNumber
            cur += ch.lowercased()
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    public func room(device: String, kind: SignalKind) -> Room {
        if let r = overrides[device] { return r }
        let w = Self.words(device)
        func has(_ set: Set<String>) -> Bool { w.contains { set.contains($0) } }
        let pressure = kind == .motion
        if pressure && has(["bed", "mattress"]) { return .bed }
        if pressure && has(["seat", "chair", "armchair", "sofa", "couch", "recliner"]) { return .seat }
        if has(["front", "entrance", "entry", "maindoor", "porch", "frontdoor"]) { return .entrance }
        if has(["door"]) && has(["main", "back", "outside", "outer", "garden"]) { return .entrance }
        if has(["toilet", "shower", "basin", "wc", "loo", "lavatory", "flush", "sink"]) || w.contains(where: { $0.hasPrefix("bath") }) { return .bathroom }
        if has(["wardrobe"]) || w.contains(where: { $0.hasPrefix("bedroom") }) { return .bedroom }
        if has(["kitchen", "fridge", "freezer", "cooker", "cooktop", "stove", "oven", "hob", "kettle", "microwave",
                "toaster", "dishwasher", "cupboard", "pantry", "groceries", "pans", "plates"]) { return .kitchen }
        if has(["living", "lounge", "tv", "television", "sittingroom"]) { return .living }
        return .other
    }
}

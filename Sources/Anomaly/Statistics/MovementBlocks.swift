/// Whether a worn accelerometer moves: the mean of each axis over blocks of `blockSeconds` is compared with where
/// it last came to rest, and a block more than `toleranceG` away on any axis is movement (gravity alone stays put on
/// a band left on a table). Per sample only sums; the comparison runs once per block.
public struct MovementBlocks: BitwiseCopyable, Sendable {
    public static let blockSeconds = 1.0
    public static let toleranceG: Float = 0.05

    var blockStart = Double.nan
    var sumX: Float = 0, sumY: Float = 0, sumZ: Float = 0
    var count: Int32 = 0
    var restX: Float = .nan, restY: Float = 0, restZ: Float = 0

    public init() {}

    /// Adds a sample; true when it closed a block that moved (its first block included: nothing was known).
    @inline(__always)
    public mutating func add(_ x: Float, _ y: Float, _ z: Float, at t: Double) -> Bool {
        if t - blockStart < Self.blockSeconds && t >= blockStart {
            sumX += x; sumY += y; sumZ += z
            count &+= 1
            return false
        }
        let moved = closeBlock()
        blockStart = t
        sumX = x; sumY = y; sumZ = z
        count = 1
        return moved
    }

    mutating func closeBlock() -> Bool {
        guard count > 0 else { return false }
        let n = Float(count)
        let x = sumX / n, y = sumY / n, z = sumZ / n
        let tol = Self.toleranceG
        guard restX.isNaN || abs(x - restX) > tol || abs(y - restY) > tol || abs(z - restZ) > tol else { return false }
        restX = x; restY = y; restZ = z
        return true
    }
}

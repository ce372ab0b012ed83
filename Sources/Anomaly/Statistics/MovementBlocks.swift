/// Whether a worn accelerometer moves: the mean of each axis over blocks of `blockSeconds` is compared with where
/// it last came to rest (`Rest`), and a block more than `toleranceG` away on any axis is movement (gravity alone
/// stays put on a band left on a table). Per sample only sums; the comparison runs once per block.
public struct MovementBlocks: BitwiseCopyable, Sendable {
    public static let blockSeconds = 1.0
    public static let toleranceG: Float = 0.05

    /// Where a wearable last came to rest (the mean of a block, in g); `x` NaN until the first block.
    public struct Rest: BitwiseCopyable, Sendable {
        public var x: Float = .nan, y: Float = 0, z: Float = 0
        public init() {}
        public var known: Bool { !x.isNaN }

        /// A block's mean: true, and the new rest, when it lies more than `tolerance` from the rest on any axis (or no
        /// rest was known).
        @inline(__always)
        public mutating func moved(_ mx: Float, _ my: Float, _ mz: Float, tolerance: Float) -> Bool {
            guard x.isNaN || abs(mx - x) > tolerance || abs(my - y) > tolerance || abs(mz - z) > tolerance else { return false }
            x = mx; y = my; z = mz
            return true
        }
    }

    var blockStart = Double.nan
    var sumX: Float = 0, sumY: Float = 0, sumZ: Float = 0
    var count: Int32 = 0
    var rest = Rest()

    public init() {}

    /// Adds a sample; true when it closed a block that moved (its first block included: nothing was known).
    @inline(__always)
    public mutating func add(_ x: Float, _ y: Float, _ z: Float, at t: Double) -> Bool {
        if t - blockStart < Self.blockSeconds && t >= blockStart {
            sumX += x; sumY += y; sumZ += z
            count &+= 1
            return false
        }
        let n = Float(count)
        let moved = count > 0 && rest.moved(sumX / n, sumY / n, sumZ / n, tolerance: Self.toleranceG)
        blockStart = t
        sumX = x; sumY = y; sumZ = z
        count = 1
        return moved
    }
}

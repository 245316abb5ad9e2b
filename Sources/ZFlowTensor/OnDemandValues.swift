/// Values kept out of memory between uses: a weight file's Float16 tensor widened to Float32 only
/// while a layer computes with it, then given back, so that a model larger than the memory
/// allowed for it runs a layer at a time (`zflow probe`'s SD UNet at full size). Reads of
/// `base` outside `Tensor.whileResident` are a programming error; implementations make them
/// fault where they can.
public protocol OnDemandValues: AnyObject, Sendable {
    /// Where the values are while resident; fixed for the object's lifetime.
    var base: UnsafeMutablePointer<Float> { get }
    /// Makes the values readable at `base`. Called by the first caller in, under the storage's lock.
    func bringIn()
    /// Gives their memory back. Called by the last caller out, under the storage's lock.
    func letGo()
}

extension Tensor {
    /// Runs `body` with this tensor's values in memory. Layers wrap their use of weights that may
    /// be on demand (`Conv2d`, `Linear`); for any other tensor this is just `body()`.
    public func whileResident<Result>(_ body: () throws -> Result) rethrows -> Result {
        try storage.whileResident(body)
    }
}

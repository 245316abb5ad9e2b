/// Values kept out of memory between uses: a weight file's Float16 tensor widened to Float32 only
/// while a layer computes with it, then given back, so that a model larger than the memory
/// allowed for it runs a layer at a time (`zflow probe`'s SD UNet at full size; Linux, where
/// `madvise` returns the pages at once). Reads of `base` outside `Tensor.whileResident` are a
/// programming error; implementations make them fault where they can.
public protocol OnDemandValues: AnyObject, Sendable {
    /// Where the values are while resident; fixed for the object's lifetime.
    var base: UnsafeMutablePointer<Float> { get }
    /// Makes the values readable at `base`. Called by the first caller in, under the storage's lock.
    func bringIn() throws
    /// Gives their memory back. Called by the last caller out, under the storage's lock.
    func letGo()
}

extension Tensor {
    /// Runs `body` with this tensor's values in memory. Layers wrap their use of weights that may
    /// be on demand (`Conv2d`, `Linear`); for any other tensor this is just `body()`. Throws when the
    /// values cannot be brought in, and when a gradient tape records: its pullbacks would read the
    /// values after `body`, when they are gone.
    public func whileResident<Result>(_ body: () throws -> Result) throws -> Result {
        if storage.isOnDemand, GradientTape.current != nil {
            throw ShapeError("whileResident", "a gradient tape cannot record a product of weights held on demand "
                + "(\(shape)): load the model with its weights in memory to train or differentiate it")
        }
        return try storage.whileResident(body)
    }
}

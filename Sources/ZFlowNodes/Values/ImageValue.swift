import ZFlowImage

/// The value of an `Image` port: an 8-bit RGB picture plus the size of the photo
/// it was made from, so that masks can be resized back to the original.
public struct ImageValue: Sendable {
    public let image: RGBImage
    public let originalWidth: Int
    public let originalHeight: Int

    public init(_ image: RGBImage, originalWidth: Int? = nil, originalHeight: Int? = nil) {
        self.image = image
        self.originalWidth = originalWidth ?? image.width
        self.originalHeight = originalHeight ?? image.height
    }
}

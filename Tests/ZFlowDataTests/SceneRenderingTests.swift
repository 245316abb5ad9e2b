import Foundation
import Testing
import ZFlowBatch
import ZFlowEval
@testable import ZFlowData
import ZFlowImage

// Masks are exact: a mask pixel is set exactly where the object is the last drawn to cover it,
// and there the image shows its colour; background pixels never show an object colour.

private func flatBackground(size: Int) -> [UInt8] { [UInt8](repeating: 128, count: size * size * 3) }

@Test func everyObjectColourIsOutsideTheBackgroundRange() {
    for colour in NamedColour.allCases {
        #expect(colour.rgb.contains { !backgroundChannelRange.contains(Int($0)) }, "\(colour)")
    }
}

@Test func aLaterObjectHidesAnEarlierOneInImageAndMask() {
    let circle = SceneObject(shape: .circle, colour: .red, centreX: 20, centreY: 20, radius: 12)
    let square = SceneObject(shape: .square, colour: .blue, centreX: 30, centreY: 20, radius: 10)
    let scene = Scene(size: 48, background: flatBackground(size: 48), objects: [circle, square])
    let (redMask, blueMask) = (scene.mask(of: 0), scene.mask(of: 1))
    // Pixel (30, 20) lies in both; the square, drawn last, owns it.
    #expect(circle.covers(x: 30, y: 20) && square.covers(x: 30, y: 20))
    #expect(redMask[20 * 48 + 30] == 0 && blueMask[20 * 48 + 30] == 255)
    #expect(Array(scene.pixels[(3 * (20 * 48 + 30))..<(3 * (20 * 48 + 30) + 3)]) == NamedColour.blue.rgb)
    #expect(scene.visible[0].count < scene.fullArea[0])
    #expect(scene.visible[1].count == scene.fullArea[1])
}

@Test func ringsHaveHolesAndStarsAreConcave() {
    let ring = SceneObject(shape: .ring, colour: .white, centreX: 32, centreY: 32, radius: 20)
    #expect(!ring.covers(x: 32, y: 32) && ring.covers(x: 32 + 15, y: 32))
    let star = SceneObject(shape: .star, colour: .black, centreX: 32, centreY: 32, radius: 20)
    // Up is a tip; straight down lies between the two lower tips, beyond the waist (0.45 r).
    #expect(star.covers(x: 31, y: 32 - 18) && star.covers(x: 32, y: 32))
    #expect(!star.covers(x: 32, y: 32 + 14))
    // A square of circumradius 20 covers about 2 r^2 = 800 pixels, a triangle 1.3 r^2 = 520.
    let area = { (object: SceneObject) in (0..<64).reduce(0) { sum, y in sum + (0..<64).filter { object.covers(x: $0, y: y) }.count } }
    #expect(abs(area(SceneObject(shape: .square, colour: .red, centreX: 32, centreY: 32, radius: 20, rotation: Rotation(x: 3, y: 1))) - 800) < 30)
    #expect(abs(area(SceneObject(shape: .triangle, colour: .red, centreX: 32, centreY: 32, radius: 20)) - 520) < 30)
}

@Test func masksAndImagesAgreePixelForPixelInGeneratedScenes() {
    for index in 0..<40 {
        let (scene, _) = SceneGenerator.scene(index: index, seed: 3, size: 48)
        for y in 0..<48 {
            for x in 0..<48 {
                // Independent of `owner`: the last object that covers the pixel, if any.
                let top = scene.objects.indices.last { scene.objects[$0].covers(x: x, y: y) } ?? -1
                let colour = Array(scene.pixels[(3 * (y * 48 + x))..<(3 * (y * 48 + x) + 3)])
                #expect(scene.owner[y * 48 + x] == top, "scene \(index) (\(x), \(y))")
                if top >= 0 {
                    #expect(colour == scene.objects[top].colour.rgb)
                } else {
                    #expect(!NamedColour.allCases.contains { $0.rgb == colour }, "scene \(index): background (\(x), \(y)) shows an object colour")
                }
            }
        }
        for object in scene.objects.indices {
            #expect(scene.mask(of: object).enumerated().allSatisfy { ($1 == 255) == (scene.owner[$0] == object) })
        }
    }
}

@Test func generatedScenesAreReadable() {
    var objectCounts = Set<Int>(), shapes = Set<ShapeKind>(), colours = Set<NamedColour>()
    for index in 0..<60 {
        let (scene, phrases) = SceneGenerator.scene(index: index, seed: 9, size: 64)
        #expect((1...4).contains(scene.objects.count))
        #expect(!scene.hasTouchingTwins)
        #expect(!phrases.isEmpty)
        for object in scene.objects.indices {
            #expect(scene.visible[object].count >= 12 && 2 * scene.visible[object].count >= scene.fullArea[object])
        }
        objectCounts.insert(scene.objects.count)
        shapes.formUnion(scene.objects.map(\.shape))
        colours.formUnion(scene.objects.map(\.colour))
    }
    #expect(objectCounts == [1, 2, 3, 4])
    #expect(shapes == Set(ShapeKind.allCases))
    #expect(colours == Set(NamedColour.allCases))
}

@Test func touchingObjectsOfOneColourAreDetected() {
    let circle = SceneObject(shape: .circle, colour: .red, centreX: 20, centreY: 20, radius: 8)
    let touching = SceneObject(shape: .square, colour: .red, centreX: 30, centreY: 20, radius: 6)
    let otherColour = SceneObject(shape: .square, colour: .green, centreX: 30, centreY: 20, radius: 6)
    let apart = SceneObject(shape: .square, colour: .red, centreX: 40, centreY: 20, radius: 6)
    #expect(Scene(size: 48, background: flatBackground(size: 48), objects: [circle, touching]).hasTouchingTwins)
    #expect(!Scene(size: 48, background: flatBackground(size: 48), objects: [circle, otherColour]).hasTouchingTwins)
    #expect(!Scene(size: 48, background: flatBackground(size: 48), objects: [circle, apart]).hasTouchingTwins)
}

@Test func theWrittenDatasetIsAValidManifestWhoseFilesMatchTheScenes() throws {
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let samples = try SyntheticDataset.write(count: 5, size: 40, seed: 1, to: folder)
    let manifest = try DatasetFiles.load(folder.appendingPathComponent("manifest.jsonl"))
    #expect(manifest.samples.count == samples)
    var checked = 0
    for index in 0..<5 {
        let (scene, phrases) = SceneGenerator.scene(index: index, seed: 1, size: 40)
        let image = try loadImage(folder.appendingPathComponent("images/000\(index).png"))
        #expect(image.pixels == scene.pixels)
        for phrase in phrases {
            let sample = manifest.samples[checked]
            #expect(sample.phrase == phrase.text)
            #expect(sample.image.lastPathComponent == "000\(index).png")
            let mask = try loadImage(sample.mask)
            // loadImage gives RGB: a gray mask has three equal channels.
            #expect(stride(from: 0, to: mask.pixels.count, by: 3).map { mask.pixels[$0] } == scene.mask(of: phrase.object))
            checked += 1
        }
    }
    #expect(checked == samples)
}

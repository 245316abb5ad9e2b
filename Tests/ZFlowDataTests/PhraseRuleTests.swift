import Testing
import ZFlowData

// Each rule of `ReferringPhrases` on hand-made scenes: the phrase appears where the scene makes
// it unambiguous and is left out where it would not be.

private func phrases(_ objects: [SceneObject], size: Int = 64) -> [String: Int] {
    let scene = Scene(size: size, background: [UInt8](repeating: 100, count: size * size * 3), objects: objects)
    let list = ReferringPhrases.phrases(for: scene)
    return Dictionary(list.map { ($0.text, $0.object) }, uniquingKeysWith: { first, _ in first })
}

private func object(_ shape: ShapeKind, _ colour: NamedColour, _ x: Int, _ y: Int, _ radius: Double = 6) -> SceneObject {
    SceneObject(shape: shape, colour: colour, centreX: x, centreY: y, radius: radius)
}

@Test func colourShapeNamesOnlyTheOneObjectOfThatColourAndShape() {
    let found = phrases([object(.circle, .red, 12, 12), object(.circle, .blue, 40, 12), object(.ring, .red, 12, 40)])
    #expect(found["red circle"] == 0 && found["blue circle"] == 1 && found["red ring"] == 2)
    let twins = phrases([object(.circle, .red, 12, 12), object(.circle, .red, 40, 40)])
    #expect(twins["red circle"] == nil)
}

@Test func leftAndRightNeedTwinsClearlyApartSideways() {
    let sideBySide = phrases([object(.star, .green, 48, 20), object(.star, .green, 14, 24)])
    #expect(sideBySide["the green star on the left"] == 1)
    #expect(sideBySide["the green star on the right"] == 0)
    #expect(sideBySide["green star"] == nil)
    // One above the other: neither is on the left.
    let stacked = phrases([object(.star, .green, 30, 12), object(.star, .green, 32, 48)])
    #expect(stacked.keys.allSatisfy { !$0.contains("on the") })
    // Overlapping sideways (the centroid of one within the other's columns): ambiguous.
    let close = phrases([object(.square, .yellow, 26, 20, 10), object(.square, .yellow, 34, 44, 10)])
    #expect(close.keys.allSatisfy { !$0.contains("on the") })
    // Three twins: only the extremes have a phrase, the middle one has none.
    let three = phrases([object(.ring, .white, 32, 32), object(.ring, .white, 8, 10), object(.ring, .white, 56, 54)])
    #expect(three == ["the white ring on the left": 1, "the white ring on the right": 2])
}

@Test func largestNeedsOneAndAHalfTimesThePixelsOfEachOther() {
    let clear = phrases([object(.triangle, .red, 16, 16, 12), object(.triangle, .blue, 46, 46, 8)])
    #expect(clear["the largest triangle"] == 0)
    let close = phrases([object(.triangle, .red, 16, 16, 12), object(.triangle, .blue, 46, 46, 11)])
    #expect(close["the largest triangle"] == nil)
    let otherShape = phrases([object(.triangle, .red, 16, 16, 12), object(.circle, .blue, 46, 46, 4)])
    #expect(otherShape["the largest triangle"] == nil && otherShape["the largest circle"] == nil)
    // Visible pixels count: the big circle mostly hidden by a square drawn later is no longer largest.
    let hidden = phrases([object(.circle, .red, 20, 20, 12), object(.circle, .blue, 50, 50, 7),
                          object(.square, .green, 20, 20, 16)])
    #expect(hidden["the largest circle"] == 1)
}

@Test func aboveNeedsOneAnchorAndOneSubjectClearlyAboveIt() {
    let simple = phrases([object(.star, .red, 30, 12), object(.square, .blue, 34, 48)])
    #expect(simple["the star above the square"] == 0)
    #expect(simple["the square above the star"] == nil)
    // Two stars above the square: which one is meant is unclear.
    let twoAbove = phrases([object(.star, .red, 12, 12), object(.star, .blue, 50, 12), object(.square, .blue, 32, 48)])
    #expect(twoAbove["the star above the square"] == nil)
    // One star above, one below: the upper one.
    let oneAbove = phrases([object(.star, .red, 12, 8), object(.star, .blue, 50, 56), object(.square, .blue, 32, 32)])
    #expect(oneAbove["the star above the square"] == 0)
    // Two squares: "the square" is no anchor.
    let twoAnchors = phrases([object(.star, .red, 30, 8), object(.square, .blue, 12, 48), object(.square, .green, 50, 48)])
    #expect(twoAnchors["the star above the square"] == nil)
    // Side by side at one height: not above.
    let level = phrases([object(.star, .red, 12, 30), object(.square, .blue, 50, 32)])
    #expect(level["the star above the square"] == nil)
}

@Test func generatedPhrasesAreUniqueAndNameAnObjectThatFits() {
    for index in 0..<80 {
        let (scene, list) = SceneGenerator.scene(index: index, seed: 21, size: 64)
        #expect(Set(list.map(\.text)).count == list.count, "scene \(index): a phrase names two objects")
        for phrase in list {
            let named = scene.objects[phrase.object]
            let words = phrase.text.split(separator: " ").map(String.init)
            // The first colour and shape words of a phrase are the named object's.
            if let colour = words.compactMap(NamedColour.init(rawValue:)).first { #expect(colour == named.colour, "\(phrase.text)") }
            #expect(words.compactMap(ShapeKind.init(rawValue:)).first == named.shape, "\(phrase.text)")
        }
    }
}

import Foundation
import Testing
@testable import Text

/// Suffix and case transform tags: hand-worked derivations, labels, and the round trip
/// apply(tags(s, t), s) == t when transforms are chosen.
@Suite("GEC transform tags")
struct GECTransformTests {
    @Test func transformsAreDerivedWhereTheyFit() {
        #expect(GECTag.transform(from: "bird", to: "birds") == .suffix(remove: "", add: "s"))
        #expect(GECTag.transform(from: "birds", to: "bird") == .suffix(remove: "s", add: ""))
        #expect(GECTag.transform(from: "flies", to: "fly") == .suffix(remove: "ies", add: "y"))
        #expect(GECTag.transform(from: "go", to: "goes") == .suffix(remove: "", add: "es"))
        #expect(GECTag.transform(from: "the", to: "The") == .capitalize)
        #expect(GECTag.transform(from: "Apple", to: "apple") == .lowercase)
        // Stem shorter than 2, suffix longer than 3, non-letters, or equal words: no transform.
        #expect(GECTag.transform(from: "a", to: "an") == nil)
        #expect(GECTag.transform(from: "is", to: "are") == nil)
        #expect(GECTag.transform(from: "walk", to: "walkings") == nil)
        #expect(GECTag.transform(from: "walk", to: "walking") == .suffix(remove: "", add: "ing"))
        #expect(GECTag.transform(from: "dog", to: "dog") == nil)
        #expect(GECTag.transform(from: "dogs", to: "dog.") == nil)
    }

    @Test func labelsRoundTripAndRewrite() {
        for t: GECTag in [.suffix(remove: "", add: "s"), .suffix(remove: "ies", add: "y"), .capitalize, .lowercase] {
            #expect(GECTag(label: t.description) == t, "\(t)")
        }
        #expect(GECTag.suffix(remove: "", add: "s").description == "$SUFFIX_-+s")
        #expect(GECTag(label: "$SUFFIX_-s+s") == nil && GECTag(label: "$SUFFIX_-abcd+") == nil && GECTag(label: "$SUFFIX_s") == nil)
        #expect(GECTag.suffix(remove: "s", add: "").rewrite("cats") == "cat")
        // An absent suffix leaves the token alone.
        #expect(GECTag.suffix(remove: "ies", add: "y").rewrite("dog") == "dog")
        #expect(GECTag.capitalize.rewrite("über") == "Über")
    }

    /// `she go to the parks today` → `She goes to the park today .`: capital at token 0, `+es` on
    /// "go", `-s` on "parks", a full stop appended to "today".
    @Test func tagsUseTransforms() {
        let s = ["she", "go", "to", "the", "parks", "today"], t = ["She", "goes", "to", "the", "park", "today", "."]
        let tags = GECTagging.tags(source: s, target: t)
        #expect(tags == [.keep, .capitalize, .suffix(remove: "", add: "es"), .keep, .keep, .suffix(remove: "s", add: ""), .append(".")])
        #expect(GECTagging.apply(tags, to: s) == t)
        let v = GECTagVocabulary.build(pairs: [(s, t), (["cat", "sit"], ["cats", "sit"]), (["dog"], ["dogs"])], maxTags: 4)
        // "+s" twice; the rest once each, ties broken by label text.
        #expect(v.labels == ["$KEEP", "$DELETE", "$SUFFIX_-+s", "$APPEND_."])
    }
}

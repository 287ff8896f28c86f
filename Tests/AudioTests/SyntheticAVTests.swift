@testable import Audio
import Core
import Foundation
import Testing

/// The synthetic audio-visual set: eSpeak NG phoneme events, viseme classes and rendered mouths.
@Suite struct SyntheticAVTests {
    /// eSpeak's events for "map" are m, a, p (plus pauses) in time order, inside the audio.
    @Test func espeakGivesTimedPhonemes() throws {
        let speech = try EspeakSynthesizer.speak("map", voice: "en-us+m3")
        #expect(speech.sampleRate == 22050)
        #expect(speech.duration > 0.2 && speech.duration < 2)
        let names = speech.phonemes.map(\.name).filter { !$0.hasPrefix("_") }
        #expect(names.first == "m" && names.last == "p", "phonemes \(speech.phonemes)")
        #expect(zip(speech.phonemes, speech.phonemes.dropFirst()).allSatisfy { $0.start <= $1.start })
        #expect(speech.phonemes.allSatisfy { $0.start >= 0 && $0.start <= speech.duration })
        #expect(throws: (any Error).self) { try EspeakSynthesizer.speak("x", voice: "no-such-voice") }
        // eSpeak carries state from call to call (a repeated call differs by a few samples; a fresh
        // process making the same sequence of calls repeats it exactly, which is what makes
        // `make-av-data` reproducible): the length stays within 1 %.
        let again = try EspeakSynthesizer.speak("map", voice: "en-us+m3")
        #expect(abs(again.samples.count - speech.samples.count) < speech.samples.count / 100)
    }

    /// p, b and m look alike (the ambiguity lip-reading faces); f/v and vowels differ from them.
    @Test func visemeClasses() {
        #expect(Viseme.of("p") == .bilabial && Viseme.of("b") == .bilabial && Viseme.of("m") == .bilabial)
        #expect(Viseme.of("f") == .labiodental && Viseme.of("v") == .labiodental)
        #expect(Viseme.of("a") == .openVowel && Viseme.of("u:") == .roundedVowel)
        #expect(Viseme.of("_:") == .rest && Viseme.of("??") == .rest)
    }

    /// Frame count = ⌈duration · 25⌉; closed lips show no dark opening, an open vowel shows one.
    @Test func renderedMouths() {
        let r = MouthRenderer()
        func darkPixels(_ phoneme: String) -> Int {
            let frames = r.render(phonemes: [.init(name: phoneme, start: 0)], duration: 0.2, faceSeed: 1)
            #expect(frames.shape == [5, 56, 56])
            return frames.slice(axis: 0, 2..<3).storage.filter { $0 < 0.1 }.count
        }
        #expect(darkPixels("m") == 0)
        #expect(darkPixels("a") > 100)
        #expect(darkPixels("a") > darkPixels("I"))
        let a = r.render(phonemes: [.init(name: "a", start: 0)], duration: 0.1, faceSeed: 1)
        let b = r.render(phonemes: [.init(name: "a", start: 0)], duration: 0.1, faceSeed: 2)
        #expect(a.storage != b.storage)  // faces look different
        #expect(r.render(phonemes: [], duration: 0.01, faceSeed: 1).shape == [1, 56, 56])
    }

    /// One face per utterance, reproducibly: the seed depends on voice and prompt, the same inputs
    /// give the same seed, and test seeds (top bit set) never coincide with training seeds.
    @Test func facePerUtterance() {
        let s = SyntheticAVSet.faceSeed(split: "train", voice: "en-us+m3", promptID: "asterisk/activated")
        #expect(s == SyntheticAVSet.faceSeed(split: "train", voice: "en-us+m3", promptID: "asterisk/activated"))
        #expect(s != SyntheticAVSet.faceSeed(split: "train", voice: "en-us+m3", promptID: "asterisk/call-waiting"))
        #expect(s != SyntheticAVSet.faceSeed(split: "train", voice: "en+f2", promptID: "asterisk/activated"))
        #expect(s >> 63 == 0)
        let t = SyntheticAVSet.faceSeed(split: "test", voice: "en-us+m3", promptID: "asterisk/activated")
        #expect(t >> 63 == 1 && t & ~(UInt64(1) << 63) == s)
        // The faces of 40 training utterances of one voice spread over the drawn ranges (ranges
        // from MouthRenderer.Face's documentation), rather than repeating one look.
        let faces = (0..<40).map { MouthRenderer.Face(seed: SyntheticAVSet.faceSeed(split: "train", voice: "en+f2", promptID: "p\($0)"), size: 56) }
        #expect(Set(faces.map(\.skin)).count == 40)
        #expect(faces.allSatisfy { $0.skin >= 0.55 && $0.skin < 0.8 && $0.scale >= 0.85 && $0.scale < 1.15 && abs($0.centreX - 28) <= 1.5 })
        #expect(faces.map(\.skin).max()! - faces.map(\.skin).min()! > 0.15)
    }
}

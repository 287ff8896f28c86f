import Core
import Foundation

/// The embedded spoken-word recognition task: the words Allison Smith recorded for Asterisk
/// (Debian `asterisk-core-sounds-en-wav`, CC-BY-SA-3.0) — digits, letter names and the ICAO
/// phonetic alphabet, one real take each — as the test set, and the same words spoken by
/// synthetic espeak-ng voices as training and validation data. So a model trained here is
/// measured on synthetic-to-real transfer: no real speech is seen in training.
public enum SpokenWords {
    /// One word: its class name, the text espeak-ng speaks, and its recording in the Asterisk set.
    public struct Word: Sendable, Equatable {
        public var label: String
        public var spoken: String
        /// Path relative to the sound set's folder (`digits/7.wav`).
        public var recording: String
    }

    /// A group of words, selectable on the command line.
    public enum Group: String, CaseIterable, Sendable {
        case digits, letters, phonetic
    }

    /// Where Debian installs Allison's American-English prompts.
    public static let defaultSoundsDirectory = "/usr/share/asterisk/sounds/en_US_f_Allison"

    /// The words of `group` in a fixed order.
    public static func words(_ group: Group) -> [Word] {
        switch group {
        case .digits:
            let names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
            return names.enumerated().map { Word(label: $1, spoken: $1, recording: "digits/\($0).wav") }
        case .letters:
            // Letter names spelled so espeak-ng says the letter, not a word ("a" alone is fine,
            // "ay" would be "eye").
            let spoken = ["a", "bee", "see", "dee", "ee", "ef", "jee", "aitch", "eye", "jay", "kay", "el", "em",
                          "en", "oh", "pee", "cue", "ar", "ess", "tee", "you", "vee", "double-you", "ex", "why", "zee"]
            return spoken.enumerated().map { i, s in
                let letter = String(UnicodeScalar(UInt8(97 + i)))
                return Word(label: letter, spoken: s, recording: "letters/\(letter).wav")
            }
        case .phonetic:
            let names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
                         "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
                         "uniform", "victor", "whiskey", "x-ray", "yankee", "zulu"]
            return names.enumerated().map { i, n in
                Word(label: n, spoken: n, recording: "phonetic/\(String(UnicodeScalar(UInt8(97 + i))))_p.wav")
            }
        }
    }

    /// English voices of espeak-ng 1.51 (language part of `-v`).
    public static let languages = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
                                   "en-gb-x-gbclan", "en-gb-x-gbcwmd"]

    /// Human-sounding voice variants shipped in `espeak-ng-data/voices/!v` (robotic, whispered and
    /// effect voices left out, since the test speech is a normal human voice).
    public static let variants = ["f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
                                  "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Alicia", "Andrea", "Andy", "Annie",
                                  "Denis", "Gene", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael",
                                  "Mike", "Nguyen", "adam", "anika", "announcer", "antonio", "aunty", "belinda",
                                  "benjamin", "boris", "caleb", "david", "ed", "edward", "grandma", "grandpa",
                                  "john", "linda", "max", "michel", "norbert", "paul", "pedro", "quincy", "rob",
                                  "robert", "steph", "travis", "victor", "zac"]
}

/// One synthetic speaker: an espeak-ng voice, variant, speed and pitch.
public struct SyntheticVoice: Sendable, Equatable, Codable {
    public var language: String
    public var variant: String
    /// Words per minute (`-s`).
    public var speed: Int
    /// Pitch 0–99 (`-p`).
    public var pitch: Int

    /// The `-v` argument.
    public var voiceArgument: String { "\(language)+\(variant)" }
    /// A file-name-safe identifier.
    public var id: String { "\(language)-\(variant)-s\(speed)-p\(pitch)" }

    /// `count` voices drawn with `seed`: variants from `variants` without repeats until all are
    /// used, a random English language, speed 120–200 wpm, pitch 25–75.
    public static func draw(_ count: Int, variants: [String], seed: UInt64) -> [SyntheticVoice] {
        var rng = SplitMix64(seed: seed)
        var pool: [String] = []
        return (0..<count).map { _ in
            if pool.isEmpty { pool = variants.shuffledSeeded(&rng) }
            let variant = pool.removeLast()
            let language = SpokenWords.languages[Int(rng.next() % UInt64(SpokenWords.languages.count))]
            return SyntheticVoice(language: language, variant: variant, speed: 120 + Int(rng.next() % 81), pitch: 25 + Int(rng.next() % 51))
        }
    }
}

extension Array {
    /// Fisher–Yates with the given generator.
    func shuffledSeeded(_ rng: inout SplitMix64) -> [Element] {
        var a = self
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return a
    }
}

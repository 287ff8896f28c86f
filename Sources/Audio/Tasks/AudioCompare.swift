import Core
import Foundation

/// Loaded clips for one split of one run (a fold, or the only split). `audio-adapt compare`
/// trains every method on the same `LoadedSplit`s; its table, plot and recommendation are the
/// shared ones of every app (`Compare` in AppSupport, over `AudioCompareTask`).
public struct LoadedSplit {
    public var train: LoadedClips
    public var validation: LoadedClips
    public var test: LoadedClips
    public var note: String
    public init(train: LoadedClips, validation: LoadedClips, test: LoadedClips, note: String) {
        self.train = train; self.validation = validation; self.test = test; self.note = note
    }
}

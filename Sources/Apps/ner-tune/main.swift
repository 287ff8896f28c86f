import AppSupport
import Foundation

exit(Launcher.main(NERTuneCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(AVSRTuneCommand.self))

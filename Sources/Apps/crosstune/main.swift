import AppSupport
import Foundation

exit(Launcher.main(CrossTuneCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(DeepfakeDetectCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(AudioAdaptCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(FaceAdaptCommand.self))

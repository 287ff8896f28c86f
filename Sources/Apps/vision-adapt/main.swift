import AppSupport
import Foundation

exit(Launcher.main(VisionAdaptCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(GECCLCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(ChangeDetectCommand.self))

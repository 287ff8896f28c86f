import AppSupport
import Foundation

exit(Launcher.main(PeftInspectCommand.self))

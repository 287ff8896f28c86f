import AppSupport
import Foundation

exit(Launcher.main(DemoCommand.self))

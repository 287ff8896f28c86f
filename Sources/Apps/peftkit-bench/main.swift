import AppSupport
import Foundation

exit(Launcher.main(BenchCommand.self))

import AppSupport
import Foundation

exit(Launcher.main(KGQueryCommand.self))

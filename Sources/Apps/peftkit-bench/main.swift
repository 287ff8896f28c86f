import AppSupport

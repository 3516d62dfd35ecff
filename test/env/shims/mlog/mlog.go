// Package mlog stands in for monis.app/mlog, the logging helper the Secrets Store CSI driver's
// main package uses, which the module proxy reachable from here refuses (403). Only the names the
// driver calls exist, written on klog. It changes how the driver logs, nothing it does.
package mlog

import (
	"context"
	"os"

	"k8s.io/klog/v2"
)

type LogFormat string

const (
	FormatText LogFormat = "text"
	FormatJSON LogFormat = "json"
)

func Setup() func() { return klog.Flush }

func ValidateAndSetKlogLevelAndFormatGlobally(_ context.Context, _ klog.Level, _ LogFormat) error {
	return nil
}

func Error(msg string, err error, keysAndValues ...interface{}) {
	klog.ErrorS(err, msg, keysAndValues...)
}

func Fatal(err error) {
	klog.ErrorS(err, "fatal")
	klog.Flush()
	os.Exit(1)
}

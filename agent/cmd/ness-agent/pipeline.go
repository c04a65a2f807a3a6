package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/pipeline"
)

// pipeline is what main needs from the pipeline (pipeline.Service).
type pipelineRunner interface {
	// Sink receives every PDU before it is deleted from the SIM.
	Sink() agent.PartSink
	// Run publishes sup's statuses and the outbox until ctx ends; it returns nil on cancel.
	Run(ctx context.Context, sup *agent.Supervisor) error
	// Close flushes and releases what the pipeline holds (called after the supervisor stopped).
	Close() error
}

// pipelineSettings is the pipeline's configuration (NESS_AGENT_MQTT_URL, _HUB_KEY, _CERT, …).
var pipelineSettings pipeline.Settings

// pipelineConfigs are the pipeline's envconfig structs, listed by --help and read with the rest.
var pipelineConfigs = []envSpec{{Title: "Pipeline, outbox and MQTT", Spec: &pipelineSettings, Validate: pipelineSettings.Validate}}

// newPipeline opens the pipeline service in the data directory: the same function the
// pipeline's agent-process tests use (pipeline.OpenService), so there is one wiring.
var newPipeline = func(_ context.Context, cfg *agent.Config, reg prometheus.Registerer, log *slog.Logger) (pipelineRunner, error) {
	return pipeline.OpenService(pipelineSettings, pipeline.ServiceOptions{DataDir: cfg.DataDir, Registerer: reg, Logger: log})
}

{{/* Names and labels, after `helm create`. */}}
{{- define "gatewayd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gatewayd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gatewayd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatewayd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gatewayd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatewayd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The gatewayd config: .Values.config verbatim, else built from the topology. */}}
{{- define "gatewayd.config" -}}
{{- if .Values.config }}
{{- toYaml .Values.config }}
{{- else }}
{{- $upstream := "" }}
{{- if eq .Values.topology "sidecar" }}
{{- $upstream = printf "unix:%s/%s" .Values.sidecar.socketDir .Values.sidecar.socketName }}
{{- else if eq .Values.topology "front-door" }}
{{- $upstream = required "frontDoor.upstream: dns:name:port, host:port or unix:/path of the FastCGI fleet" .Values.frontDoor.upstream }}
{{- else }}
{{- fail (printf "topology %q: sidecar or front-door" .Values.topology) }}
{{- end }}
{{- $routes := list }}
{{- range .Values.extraRoutes }}{{ $routes = append $routes . }}{{ end }}
{{- $fastcgi := dict "prefix" .Values.fastcgi.prefix "app" "fastcgi" "root" .Values.fastcgi.root "index" .Values.fastcgi.index "max_conns" (int .Values.fastcgi.maxConns) }}
{{- if hasPrefix "dns:" $upstream }}
{{- /* A fleet: every address the name resolves to, looked up again every resolve_interval. */}}
{{- $_ := set $fastcgi "upstreams" (list $upstream) }}
{{- else }}
{{- $_ := set $fastcgi "upstream" $upstream }}
{{- end }}
{{- $routes = append $routes $fastcgi }}
{{- $cfg := dict
  "listeners" (list (dict "name" "http" "protocol" "http" "address" (printf ":%d" (int .Values.ports.http))))
  "routes" $routes
  "log" .Values.log
  "metrics" (dict "address" (printf ":%d" (int .Values.ports.metrics)) "path" "/metrics")
  "shutdown_timeout" (printf "%ds" (int .Values.shutdownTimeoutSeconds)) }}
{{- toYaml $cfg }}
{{- end }}
{{- end }}

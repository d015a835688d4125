{{/* Name of the chart, overridable. */}}
{{- define "aimesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it already contains the chart name. */}}
{{- define "aimesh.fullname" -}}
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

{{- define "aimesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aimesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aimesh.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aimesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "aimesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aimesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aimesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Lease the replicas elect a status writer with; aimesh run names it the same way. */}}
{{- define "aimesh.leaseName" -}}
{{- if .Values.mesh }}{{ printf "aimesh-status-%s" .Values.mesh | trunc 63 | trimSuffix "-" }}{{ else }}aimesh-status{{ end }}
{{- end }}

{{/* terminationGracePeriodSeconds: above preStop sleep plus drain timeout. */}}
{{- define "aimesh.terminationGracePeriod" -}}
{{- $min := add .Values.preStopSleepSeconds .Values.drainTimeoutSeconds }}
{{- if .Values.terminationGracePeriodSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $min) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + drainTimeoutSeconds (%v), or in-flight requests are cut" .Values.terminationGracePeriodSeconds $min) }}
{{- end }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add $min 15 }}
{{- end }}
{{- end }}

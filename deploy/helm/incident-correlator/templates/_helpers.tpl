{{- define "correlator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "correlator.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "correlator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "correlator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "correlator.labels" -}}
{{ include "correlator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "correlator.secretName" -}}
{{- if .Values.webhookToken.existingSecret -}}
{{- .Values.webhookToken.existingSecret -}}
{{- else -}}
{{- printf "%s-webhook" (include "correlator.fullname" .) -}}
{{- end -}}
{{- end -}}

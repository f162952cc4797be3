{{/* The chart's name, for labels. */}}
{{- define "cosmonaut.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of the release's objects: the release name, with the chart's name
after it unless the release name already contains it.
*/}}
{{- define "cosmonaut.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The headless Service that gives the pod its stable DNS name. */}}
{{- define "cosmonaut.headlessName" -}}
{{- printf "%s-headless" (include "cosmonaut.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the server's pod. */}}
{{- define "cosmonaut.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cosmonaut.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "cosmonaut.labels" -}}
{{ include "cosmonaut.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The Secret the server's environment comes from. */}}
{{- define "cosmonaut.secretName" -}}
{{- default (include "cosmonaut.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* The image, its tag defaulting to the chart's appVersion. */}}
{{- define "cosmonaut.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The names the generated certificate covers beside localhost: the client
Service's names and any in tlsHostnames.
*/}}
{{- define "cosmonaut.tlsHostnames" -}}
{{- $fullname := include "cosmonaut.fullname" . -}}
{{- $names := list $fullname (printf "%s.%s.svc" $fullname .Release.Namespace) (printf "%s.%s.svc.cluster.local" $fullname .Release.Namespace) -}}
{{- concat $names .Values.tlsHostnames | uniq | join "," -}}
{{- end -}}

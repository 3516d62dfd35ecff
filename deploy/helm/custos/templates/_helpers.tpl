{{- define "custos.name" -}}custos{{- end -}}
{{- define "custos.fullname" -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}-custos{{- end -}}
{{- define "custos.labels" -}}
app.kubernetes.io/name: custos
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "custos.selector" -}}
app.kubernetes.io/name: custos
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "custos.controllers" -}}
{{- $c := list -}}
{{- if .Values.controllers.externalsecret }}{{ $c = append $c "externalsecret" }}{{ end -}}
{{- if .Values.controllers.sealedsecret }}{{ $c = append $c "sealedsecret" }}{{ end -}}
{{- if .Values.controllers.rollout }}{{ $c = append $c "rollout" }}{{ end -}}
{{- if .Values.controllers.kes }}{{ $c = append $c "kes" }}{{ end -}}
{{- if .Values.controllers.vso }}{{ $c = append $c "vso" }}{{ end -}}
{{- if .Values.controllers.pushsecret }}{{ $c = append $c "pushsecret" }}{{ end -}}
{{- if .Values.controllers.generatorstate }}{{ $c = append $c "generatorstate" }}{{ end -}}
{{- join "," $c -}}
{{- end -}}

module custos.local/yaml-golden

go 1.24

require sigs.k8s.io/yaml v1.6.0

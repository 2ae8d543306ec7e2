/*
 * Copyright 2022 Red Hat
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *      http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

// From Apicurio/apicurio-common-app-components, tag 0.1.18.Final,
// config-index/deployment/src/main/java/.../ConfigIndexProcessor.java (Apache-2.0). The published
// deployment jar of that release is not on Maven Central; see ../../../pom.xml.
package apicurio.common.app.components.config.index.deployment;

import java.util.List;
import java.util.stream.Collectors;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;
import org.jboss.jandex.Type;

import apicurio.common.app.components.config.index.DynamicPropertiesInfoRecorder;
import io.apicurio.common.apps.config.Dynamic;
import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.BeanDiscoveryFinishedBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.arc.processor.InjectionPointInfo;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import io.quarkus.runtime.RuntimeValue;

class ConfigIndexProcessor {

    private static final DotName CONFIG_PROPERTY = DotName.createSimple(ConfigProperty.class.getName());
    private static final DotName DYNAMIC = DotName.createSimple(Dynamic.class.getName());

    /** Records every {@code @Dynamic @ConfigProperty} injection point as a run-time bean. */
    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void syntheticBean(DynamicPropertiesInfoRecorder recorder, BeanDiscoveryFinishedBuildItem beanDiscovery,
            BuildProducer<SyntheticBeanBuildItem> syntheticBeans) {
        List<DynamicConfigPropertyDef> dynamicProperties = beanDiscovery.getInjectionPoints()
                .stream()
                .filter(ConfigIndexProcessor::isDynamicConfigProperty)
                .map(ConfigIndexProcessor::definition)
                .collect(Collectors.toList());

        RuntimeValue<DynamicConfigPropertyList> holder = recorder.initializePropertiesInfo(dynamicProperties);

        syntheticBeans.produce(SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class)
                .runtimeValue(holder)
                .unremovable()
                .setRuntimeInit()
                .done());
    }

    private static DynamicConfigPropertyDef definition(InjectionPointInfo injectionPoint) {
        try {
            AnnotationInstance configProperty = injectionPoint.getRequiredQualifier(CONFIG_PROPERTY);
            AnnotationInstance dynamic = injectionPoint.getRequiredQualifier(DYNAMIC);

            Type supplierType = injectionPoint.getRequiredType();
            Type actualType = supplierType.asParameterizedType().arguments().get(0);

            String propertyName = configProperty.value("name").asString();
            Class<?> propertyType = Class.forName(actualType.name().toString());
            AnnotationValue defaultValue = configProperty.value("defaultValue");
            if (defaultValue == null) {
                throw new RuntimeException("Dynamic configuration property '" + propertyName + "' must have a default value.");
            }
            DynamicConfigPropertyDef def = new DynamicConfigPropertyDef(propertyName, propertyType, defaultValue.asString());

            AnnotationValue label = dynamic.value("label");
            AnnotationValue description = dynamic.value("description");
            AnnotationValue requires = dynamic.value("requires");
            if (label != null) {
                def.setLabel(label.asString());
            }
            if (description != null) {
                def.setDescription(description.asString());
            }
            if (requires != null) {
                def.setRequires(requires.asStringArray());
            }
            return def;
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    private static boolean isDynamicConfigProperty(InjectionPointInfo injectionPoint) {
        return injectionPoint.getRequiredQualifier(CONFIG_PROPERTY) != null && injectionPoint.isField()
                && injectionPoint.getTarget().asField().annotation(DYNAMIC) != null;
    }
}
